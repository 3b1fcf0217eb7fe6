namespace Engine.Nn.Data;

/// <summary>
/// The fixed text of a passkey prompt: <c>filler · StatementPrefix · key · StatementSuffix · filler · Question</c>,
/// with the key's digits as the answer right after <see cref="Question"/>. <see cref="Paper"/> is the wording of the
/// passkey task (about 74 tokens without filler); <see cref="Short"/> fits the short contexts of small models.
/// </summary>
/// <param name="StatementPrefix">Text before the key in the statement.</param>
/// <param name="StatementSuffix">Text after the key in the statement.</param>
/// <param name="Question">Text that ends the prompt; the answer follows it directly.</param>
public sealed record PasskeyTemplate(string StatementPrefix, string StatementSuffix, string Question)
{
    /// <summary>Text before the key in the statement (no digits).</summary>
    public string StatementPrefix { get; } = Checked(StatementPrefix, nameof(StatementPrefix), allowEmpty: true);
    /// <summary>Text after the key in the statement (no digits).</summary>
    public string StatementSuffix { get; } = Checked(StatementSuffix, nameof(StatementSuffix), allowEmpty: true);
    /// <summary>Text that ends the prompt (not empty, no digits); the answer follows it directly.</summary>
    public string Question { get; } = Checked(Question, nameof(Question), allowEmpty: false);

    // Digits in the wording would make the key ambiguous to read back.
    private static string Checked(string text, string name, bool allowEmpty)
    {
        ArgumentNullException.ThrowIfNull(text, name);
        if (!allowEmpty && text.Length == 0) throw new ArgumentException($"passkey template: {name} must not be empty", name);
        if (text.Any(char.IsAsciiDigit)) throw new ArgumentException($"passkey template: {name} \"{text}\" must not contain digits", name);
        return text;
    }

    /// <summary>"the pass key is 48213. remember it. " … "what is the pass key? the pass key is ".</summary>
    public static PasskeyTemplate Paper { get; } = new("the pass key is ", ". remember it. ", "what is the pass key? the pass key is ");

    /// <summary>"key 48213. " … "key? key ": the same structure in 20 tokens.</summary>
    public static PasskeyTemplate Short { get; } = new("key ", ". ", "key? key ");

    /// <summary>Tokens of a prompt that are not filler: the statement with its key, and the question.</summary>
    public int FixedLength => StatementPrefix.Length + PasskeyPrompts.KeyDigits + StatementSuffix.Length + Question.Length;

    /// <summary>The shortest window: a prompt without filler plus the answer digits the model reads back (all but the last).</summary>
    public int MinimumWindow => FixedLength + PasskeyPrompts.KeyDigits - 1;

    /// <summary>Every character a prompt or an answer needs besides the filler: the template's and the ten digits, sorted.</summary>
    public string Alphabet => new((StatementPrefix + StatementSuffix + Question + "0123456789").Distinct().Order().ToArray());

    /// <summary>"paper" or "short".</summary>
    /// <exception cref="ArgumentException">Another name.</exception>
    public static PasskeyTemplate Named(string name) => name.Trim().ToLowerInvariant() switch
    {
        "paper" => Paper,
        "short" => Short,
        _ => throw new ArgumentException($"passkey: unknown template '{name}'; use 'paper' or 'short'"),
    };
}
