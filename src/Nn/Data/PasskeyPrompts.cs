using System.Globalization;
using System.Text;

namespace Engine.Nn.Data;

/// <summary>
/// One passkey-retrieval prompt: filler text with a key statement at some depth and the question at the end.
/// </summary>
/// <param name="Tokens">The prompt's token ids (ends with the question, just before the answer).</param>
/// <param name="Answer">The token ids of the key's digits: what should follow <paramref name="Tokens"/>.</param>
/// <param name="Key">The key as text (<see cref="PasskeyPrompts.KeyDigits"/> digits).</param>
/// <param name="StatementIndex">Token index where the key statement starts.</param>
/// <param name="KeyIndex">Token index of the key's first digit inside the statement.</param>
/// <param name="QuestionIndex">Token index where the question starts (<c>Tokens.Length − question length</c>).</param>
/// <param name="Depth">Filler tokens before the statement divided by all filler tokens (0 when there is no filler).</param>
public sealed record PasskeyPrompt(int[] Tokens, int[] Answer, string Key, int StatementIndex, int KeyIndex, int QuestionIndex, double Depth)
{
    /// <summary>Prompt length in tokens.</summary>
    public int Length => Tokens.Length;

    /// <summary>The prompt followed by the answer (<see cref="Length"/> + <see cref="PasskeyPrompts.KeyDigits"/> tokens).</summary>
    public int[] Sequence() => [.. Tokens, .. Answer];
}

/// <summary>
/// Builds passkey-retrieval prompts (the long-context probe of Gao &amp; Spratling, arXiv 2501.13428, after
/// Mohtashami &amp; Jaggi): <c>filler · "the pass key is 48213. remember it. " · filler · "what is the pass key? the pass
/// key is "</c> (the <see cref="PasskeyTemplate.Paper"/> wording), whose answer is the five digits. The filler is a contiguous span of corpus tokens (read cyclically, so
/// any non-empty corpus works), split at the depth: depth 0 puts the statement first, depth 1 right before the question.
/// Everything random comes from an <see cref="Rng"/>, so a seed gives the same prompts on every machine.
/// </summary>
public sealed class PasskeyPrompts
{
    /// <summary>Digits in a key.</summary>
    public const int KeyDigits = 5;
    private readonly int[] filler;
    private readonly int[] statementPrefix, statementSuffix, question;
    private readonly int[] digits;

    /// <summary>A builder that takes filler from <paramref name="fillerTokens"/> (ids of <paramref name="tokenizer"/>).</summary>
    /// <param name="tokenizer">The model's tokenizer: a <see cref="CharTokenizer"/> (the key is five one-digit tokens) that holds the template's <see cref="PasskeyTemplate.Alphabet"/>.</param>
    /// <param name="fillerTokens">Corpus tokens the filler is read from.</param>
    /// <param name="template">The wording; null is <see cref="PasskeyTemplate.Paper"/>.</param>
    /// <exception cref="ArgumentException">The tokenizer is not a char tokenizer or lacks characters of the alphabet (named), or there is no filler.</exception>
    public PasskeyPrompts(Tokenizer tokenizer, int[] fillerTokens, PasskeyTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(fillerTokens);
        template ??= PasskeyTemplate.Paper;
        RequireAlphabet(tokenizer, "passkey", template);
        var chars = (CharTokenizer)tokenizer;
        if (fillerTokens.Length == 0) throw new ArgumentException("passkey: the filler token sequence is empty", nameof(fillerTokens));
        foreach (int id in fillerTokens)
            if ((uint)id >= (uint)tokenizer.VocabSize)
                throw new ArgumentException($"passkey: filler token id {id} is outside the tokenizer's vocabulary [0, {tokenizer.VocabSize})", nameof(fillerTokens));
        Tokenizer = chars;
        Template = template;
        filler = fillerTokens;
        statementPrefix = tokenizer.Encode(template.StatementPrefix);
        statementSuffix = tokenizer.Encode(template.StatementSuffix);
        question = tokenizer.Encode(template.Question);
        digits = tokenizer.Encode("0123456789");
    }

    /// <summary>The tokenizer of the prompts.</summary>
    public CharTokenizer Tokenizer { get; }

    /// <summary>The wording of the prompts.</summary>
    public PasskeyTemplate Template { get; }

    /// <summary>Tokens of a prompt that are not filler (<see cref="PasskeyTemplate.FixedLength"/>).</summary>
    public int FixedLength => Template.FixedLength;

    /// <summary>The characters of the template's alphabet (null: <see cref="PasskeyTemplate.Paper"/>) that <paramref name="tokenizer"/> lacks (empty when it has them all).</summary>
    /// <exception cref="ArgumentException">The tokenizer is not a <see cref="CharTokenizer"/>.</exception>
    public static string MissingCharacters(Tokenizer tokenizer, PasskeyTemplate? template = null)
    {
        var chars = Chars(tokenizer, "passkey");
        return new string((template ?? PasskeyTemplate.Paper).Alphabet.Where(ch => !chars.Contains(new Rune(ch))).ToArray());
    }

    /// <summary>The tokenizer as a <see cref="CharTokenizer"/>: the prompts count characters and the key is five one-digit tokens.</summary>
    private static CharTokenizer Chars(Tokenizer tokenizer, string what)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return tokenizer as CharTokenizer ?? throw new ArgumentException(
            $"{what}: passkey prompts need the char tokenizer (the key must be five one-digit tokens), but the tokenizer is {tokenizer.Describe()}");
    }

    /// <summary>Throws when <paramref name="tokenizer"/> cannot write a prompt, naming the missing characters; <paramref name="what"/> starts the message.</summary>
    /// <exception cref="ArgumentException">The tokenizer is not a char tokenizer, or some characters of the template's alphabet are not in the vocabulary.</exception>
    public static void RequireAlphabet(Tokenizer tokenizer, string what, PasskeyTemplate? template = null)
    {
        Chars(tokenizer, what);
        string missing = MissingCharacters(tokenizer, template);
        if (missing.Length > 0)
            throw new ArgumentException(
                $"{what}: the vocabulary of {tokenizer.VocabSize} symbols lacks {string.Join(", ", missing.Select(ch => ch == ' ' ? "' ' (space)" : $"'{ch}'"))}, " +
                "which the passkey prompts need; train a model whose tokenizer includes them (the passkey command adds them when it trains from scratch)");
    }

    /// <summary>
    /// <paramref name="tokenizer"/> with the missing characters of the template's alphabet added (itself when none is
    /// missing). Ids are code-point ranks, so existing symbols may get new ids: re-encode the corpus with the result
    /// (<see cref="TextDataset.WithTokenizer"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The tokenizer is not a <see cref="CharTokenizer"/>.</exception>
    public static CharTokenizer WithAlphabet(Tokenizer tokenizer, PasskeyTemplate? template = null)
    {
        var chars = Chars(tokenizer, "passkey");
        string missing = MissingCharacters(chars, template);
        return missing.Length == 0 ? chars : CharTokenizer.FromSymbols(chars.Symbols.Concat(missing.Select(ch => ch.ToString())));
    }

    /// <summary>Prompt length that makes a window of <paramref name="window"/> tokens: the prompt plus all answer digits but the last, which the model reads while it predicts the five digits.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The window is too short for the statement and the question.</exception>
    public int PromptLengthForWindow(int window)
    {
        int length = window - KeyDigits + 1;
        if (length < FixedLength)
            throw new ArgumentOutOfRangeException(nameof(window), window,
                $"passkey: a window of {window} tokens is too short for the template; it needs at least {Template.MinimumWindow} (statement, key, question and the answer digits the model reads)");
        return length;
    }

    /// <summary>
    /// A prompt of exactly <paramref name="length"/> tokens with a random key, random filler offset and, unless
    /// <paramref name="depth"/> is given, a uniformly random depth; draws from <paramref name="rng"/> only.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is below <see cref="FixedLength"/>, or the depth is outside [0, 1].</exception>
    public PasskeyPrompt Build(int length, Rng rng, double? depth = null)
    {
        ArgumentNullException.ThrowIfNull(rng);
        CheckLength(length);
        if (depth is { } d) CheckDepth(d);
        int key = 10_000 + rng.NextInt(90_000);   // five digits, no leading zero
        int offset = rng.NextInt(filler.Length);
        double at = depth ?? rng.NextDouble();
        return Build(length, at, key.ToString(CultureInfo.InvariantCulture), offset);
    }

    /// <summary>
    /// A prompt of exactly <paramref name="length"/> tokens with the given key, filler starting at corpus token
    /// <paramref name="fillerOffset"/>, and ⌊depth · filler + ½⌋ filler tokens before the statement.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The length is too short, the depth outside [0, 1], or the offset outside the filler.</exception>
    /// <exception cref="ArgumentException">The key is not <see cref="KeyDigits"/> ASCII digits.</exception>
    public PasskeyPrompt Build(int length, double depth, string key, int fillerOffset)
    {
        ArgumentNullException.ThrowIfNull(key);
        CheckLength(length);
        CheckDepth(depth);
        if (key.Length != KeyDigits || !key.All(char.IsAsciiDigit))
            throw new ArgumentException($"passkey: key \"{key}\" must be {KeyDigits} ASCII digits", nameof(key));
        if ((uint)fillerOffset >= (uint)filler.Length)
            throw new ArgumentOutOfRangeException(nameof(fillerOffset), fillerOffset, $"passkey: filler offset must be in [0, {filler.Length})");
        int fillerLength = length - FixedLength;
        int before = (int)Math.Floor(depth * fillerLength + 0.5);
        var tokens = new int[length];
        var answer = key.Select(ch => digits[ch - '0']).ToArray();
        int at = 0, source = fillerOffset;
        void Filler(int count)
        {
            for (int i = 0; i < count; i++)
            {
                tokens[at++] = filler[source];
                if (++source == filler.Length) source = 0;
            }
        }
        void Text(int[] ids) { ids.CopyTo(tokens, at); at += ids.Length; }
        Filler(before);
        int statement = at;
        Text(statementPrefix);
        int keyIndex = at;
        Text(answer);
        Text(statementSuffix);
        Filler(fillerLength - before);
        int questionIndex = at;
        Text(question);
        return new PasskeyPrompt(tokens, answer, key, statement, keyIndex, questionIndex, fillerLength == 0 ? 0 : before / (double)fillerLength);
    }

    private void CheckLength(int length)
    {
        if (length < FixedLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"passkey: a prompt of {length} tokens is too short; the statement, key and question alone take {FixedLength}");
    }

    /// <summary>Throws unless <paramref name="depth"/> is in [0, 1].</summary>
    /// <exception cref="ArgumentOutOfRangeException">The depth is outside [0, 1] or NaN.</exception>
    public static void CheckDepth(double depth)
    {
        if (!(depth >= 0 && depth <= 1))
            throw new ArgumentOutOfRangeException(nameof(depth), depth, $"passkey: depth {depth.ToString(CultureInfo.InvariantCulture)} is outside [0, 1] (the fraction of the filler before the key)");
    }
}
