using System.Text.Json;

namespace Engine.Nn.Data;

/// <summary>
/// Turns text into token ids and back: <see cref="CharTokenizer"/> (one token per code point) or
/// <see cref="Gpt2Tokenizer"/> (GPT-2's byte-level BPE, whole or restricted to the ids a corpus uses). Every
/// checkpoint stores its tokenizer (<see cref="ToJson"/>, read back by <see cref="Read"/>), so a model is always
/// evaluated and sampled with the ids it was trained on. See docs/tokenization.md.
/// Threading: tokenizers are immutable; encoding and decoding may run on many threads at once.
/// </summary>
public abstract class Tokenizer
{
    /// <summary>The accepted kind names, for messages: "char, gpt2 or gpt2-used".</summary>
    public const string KindNames = "char, gpt2 or gpt2-used";

    private protected Tokenizer() { }

    /// <summary>Which tokenizer this is.</summary>
    public abstract TokenizerKind Kind { get; }

    /// <summary>Number of token ids: the model's vocabulary size.</summary>
    public abstract int VocabSize { get; }

    /// <summary>Token ids of a text.</summary>
    /// <exception cref="ArgumentException">The text cannot be encoded (a character outside a char vocabulary, an unpaired surrogate).</exception>
    public abstract int[] Encode(string text);

    /// <summary>Token ids of a text with the UTF-8 byte length of each token and the number of unknown tokens.</summary>
    /// <exception cref="ArgumentException">The text cannot be encoded (see <see cref="Encode"/>).</exception>
    public abstract TokenizedText Tokenize(string text);

    /// <summary>The text of a sequence of token ids.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabSize"/>).</exception>
    public abstract string Decode(ReadOnlySpan<int> ids);

    /// <summary>The text of one token id.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside [0, <see cref="VocabSize"/>).</exception>
    public string Decode(int id) => Decode([id]);

    /// <summary>The tokenizer as a JSON object with a <c>"kind"</c> (stored in checkpoint.json).</summary>
    public abstract string ToJson();

    /// <summary>True when both give every text the same ids (same kind and same vocabulary).</summary>
    public abstract bool SameAs(Tokenizer other);

    /// <summary>Short description for messages and logs, e.g. "char (65 symbols)" or "gpt2-used (1,234 of 50,257 GPT-2 ids + unknown)".</summary>
    public abstract string Describe();

    /// <summary>The name of a kind: "char", "gpt2" or "gpt2-used".</summary>
    public static string Name(TokenizerKind kind) => kind switch
    {
        TokenizerKind.Char => "char",
        TokenizerKind.Gpt2 => "gpt2",
        TokenizerKind.Gpt2Used => "gpt2-used",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "tokenizer: unknown kind"),
    };

    /// <summary>The kind of a name (case-insensitive, surrounding spaces ignored).</summary>
    /// <param name="name">"char", "gpt2" or "gpt2-used".</param>
    /// <param name="option">How the value is named in the message, e.g. "--tokenizer".</param>
    /// <exception cref="ArgumentException">The name is none of them; the message names the value and the choices.</exception>
    public static TokenizerKind ParseKind(string? name, string option = "tokenizer") =>
        name?.Trim().ToLowerInvariant() switch
        {
            "char" => TokenizerKind.Char,
            "gpt2" => TokenizerKind.Gpt2,
            "gpt2-used" => TokenizerKind.Gpt2Used,
            _ => throw new ArgumentException(
                $"{option} must be {KindNames} (characters; GPT-2 byte-level BPE; GPT-2 BPE keeping only the ids the corpus uses), got '{name}'"),
        };

    /// <summary>
    /// A tokenizer of <paramref name="kind"/> for a corpus: the char vocabulary of the text, the whole GPT-2 BPE, or
    /// GPT-2 restricted to the ids the text uses.
    /// </summary>
    /// <exception cref="ArgumentException">The text is empty or has an unpaired surrogate.</exception>
    public static Tokenizer Create(TokenizerKind kind, string text) => kind switch
    {
        TokenizerKind.Char => CharTokenizer.FromText(text),
        TokenizerKind.Gpt2 => Gpt2Tokenizer.Full,
        TokenizerKind.Gpt2Used => Gpt2Tokenizer.FromText(text),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "tokenizer: unknown kind"),
    };

    /// <summary>Reads a tokenizer written by <see cref="ToJson"/>; an object without <c>"kind"</c> is a char vocabulary (older checkpoints).</summary>
    /// <exception cref="FormatException">The JSON is not a known tokenizer or its vocabulary is invalid.</exception>
    public static Tokenizer Read(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("tokenizer: JSON must be an object");
        if (!root.TryGetProperty("kind", out var kind)) return CharTokenizer.FromJson(root);
        if (kind.ValueKind != JsonValueKind.String) throw new FormatException("tokenizer: \"kind\" must be a string");
        return kind.GetString() switch
        {
            "char" => CharTokenizer.FromJson(root),
            "gpt2" or "gpt2-used" => Gpt2Tokenizer.FromJson(root),
            var other => throw new FormatException($"tokenizer: unknown kind \"{other}\" (this build reads {KindNames})"),
        };
    }

    /// <summary>Reads a tokenizer from JSON text written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The JSON is malformed or not a known tokenizer.</exception>
    public static Tokenizer Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
            return Read(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"tokenizer: malformed JSON ({e.Message})", e);
        }
    }
}
