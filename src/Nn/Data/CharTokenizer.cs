using System.Text;
using System.Text.Json;

namespace Engine.Nn.Data;

/// <summary>
/// A character-level tokenizer: every distinct Unicode code point of a corpus is one token, and token ids are the
/// ranks of the code points in ascending order (so the same text always gives the same vocabulary). The vocabulary
/// is stored in each checkpoint (<see cref="ToJson"/>), so a model can be evaluated or sampled without its corpus.
/// Each token is one code point, so its UTF-8 length is 1 to 4 bytes (1 for ASCII: bits per byte are then loss / ln 2).
/// Threading: immutable after construction; <see cref="Encode"/> and <see cref="Decode(ReadOnlySpan{int})"/> may run on many threads at once.
/// </summary>
public sealed class CharTokenizer : Tokenizer
{
    private readonly Rune[] symbols;
    private readonly Dictionary<int, int> idOf;

    private CharTokenizer(Rune[] sortedDistinct)
    {
        symbols = sortedDistinct;
        idOf = new Dictionary<int, int>(symbols.Length);
        for (int i = 0; i < symbols.Length; i++) idOf[symbols[i].Value] = i;
    }

    /// <summary>Builds the vocabulary of a text: its distinct code points, sorted.</summary>
    /// <exception cref="ArgumentException">The text is empty or contains an unpaired surrogate.</exception>
    public static CharTokenizer FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ArgumentException("tokenizer: cannot build a vocabulary from empty text", nameof(text));
        var seen = new HashSet<int>();
        foreach (var rune in EnumerateStrict(text, "tokenizer")) seen.Add(rune.Value);
        var sorted = seen.Order().Select(v => new Rune(v)).ToArray();
        return new CharTokenizer(sorted);
    }

    /// <summary>Builds a tokenizer from an explicit list of symbols (each one code point), sorting them.</summary>
    /// <exception cref="ArgumentException">A symbol is not exactly one code point, or appears twice, or the list is empty.</exception>
    public static CharTokenizer FromSymbols(IEnumerable<string> symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        var values = new List<int>();
        var seen = new HashSet<int>();
        foreach (var s in symbols)
        {
            if (s is null || s.EnumerateRunes().Count() != 1 || Rune.DecodeFromUtf16(s, out var r, out int used) != System.Buffers.OperationStatus.Done || used != s.Length)
                throw new ArgumentException($"tokenizer: vocabulary entry {Quote(s)} is not exactly one Unicode code point");
            if (!seen.Add(r.Value)) throw new ArgumentException($"tokenizer: vocabulary entry {Quote(s)} appears twice");
            values.Add(r.Value);
        }
        if (values.Count == 0) throw new ArgumentException("tokenizer: the vocabulary is empty");
        values.Sort();
        return new CharTokenizer(values.Select(v => new Rune(v)).ToArray());
    }

    /// <summary>Always <see cref="TokenizerKind.Char"/>.</summary>
    public override TokenizerKind Kind => TokenizerKind.Char;

    /// <summary>Number of tokens.</summary>
    public override int VocabSize => symbols.Length;

    /// <summary>The symbols in id order (each a one-code-point string).</summary>
    public IReadOnlyList<string> Symbols => symbols.Select(r => r.ToString()).ToArray();

    /// <summary>True when the code point is in the vocabulary.</summary>
    public bool Contains(Rune symbol) => idOf.ContainsKey(symbol.Value);

    /// <summary>Token ids of a text.</summary>
    /// <exception cref="ArgumentException">The text has a character outside the vocabulary (named with its position).</exception>
    public override int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length);
        int position = 0;
        foreach (var rune in EnumerateStrict(text, "tokenizer.encode"))
        {
            if (!idOf.TryGetValue(rune.Value, out int id))
                throw new ArgumentException(
                    $"tokenizer.encode: character {Describe(rune)} at position {position} is not in the vocabulary of {VocabSize} symbols " +
                    "(the tokenizer was built from another text)");
            ids.Add(id);
            position++;
        }
        return ids.ToArray();
    }

    /// <summary>
    /// Token ids of a text with each token's UTF-8 length (1 for ASCII, up to 4 for a code point outside the BMP); a
    /// char vocabulary has no unknown id, so <see cref="TokenizedText.UnknownCount"/> is 0.
    /// </summary>
    /// <exception cref="ArgumentException">The text has a character outside the vocabulary (named with its position).</exception>
    public override TokenizedText Tokenize(string text)
    {
        var ids = Encode(text);
        var bytes = new int[ids.Length];
        for (int i = 0; i < ids.Length; i++) bytes[i] = symbols[ids[i]].Utf8SequenceLength;
        return new TokenizedText(ids, bytes, 0);
    }

    /// <summary>The text of a sequence of token ids.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabSize"/>).</exception>
    public override string Decode(ReadOnlySpan<int> ids)
    {
        var sb = new StringBuilder(ids.Length);
        for (int i = 0; i < ids.Length; i++)
        {
            if ((uint)ids[i] >= (uint)symbols.Length)
                throw new ArgumentOutOfRangeException(nameof(ids), ids[i], $"tokenizer.decode: token id {ids[i]} at position {i} is outside the vocabulary [0, {symbols.Length})");
            sb.Append(symbols[ids[i]].ToString());
        }
        return sb.ToString();
    }

    /// <summary>
    /// The vocabulary as JSON: <c>{"kind":"char","symbols":["\n"," ","!",…]}</c>. Symbols are listed in id order.
    /// </summary>
    public override string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kind", "char");
            w.WriteStartArray("symbols");
            foreach (var r in symbols) w.WriteStringValue(r.ToString());
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a vocabulary written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The JSON is malformed, not a char tokenizer, or its symbols are invalid.</exception>
    public static CharTokenizer FromJson(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 4 });
            return FromJson(doc.RootElement);
        }
        catch (JsonException e)
        {
            throw new FormatException($"tokenizer: malformed JSON ({e.Message})", e);
        }
    }

    /// <summary>Reads a vocabulary from a parsed JSON element written by <see cref="ToJson"/> (a missing <c>"kind"</c> means "char").</summary>
    /// <exception cref="FormatException">The element is not a char tokenizer or its symbols are invalid.</exception>
    public static CharTokenizer FromJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("tokenizer: JSON must be an object");
        if (root.TryGetProperty("kind", out var kind) && (kind.ValueKind != JsonValueKind.String || kind.GetString() != "char"))
            throw new FormatException("tokenizer: JSON must have \"kind\": \"char\"");
        if (!root.TryGetProperty("symbols", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new FormatException("tokenizer: JSON must have a \"symbols\" array");
        var items = new List<string>();
        foreach (var e in list.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw new FormatException($"tokenizer: symbol #{items.Count} is not a string");
            items.Add(e.GetString()!);
        }
        CharTokenizer result;
        try { result = FromSymbols(items); }
        catch (ArgumentException e) { throw new FormatException(e.Message, e); }
        // Ids are ranks: a list in another order would silently permute every embedding row.
        for (int i = 0; i < items.Count; i++)
            if (items[i] != result.symbols[i].ToString())
                throw new FormatException($"tokenizer: symbols must be listed in ascending code-point order (entry #{i} is {Quote(items[i])})");
        return result;
    }

    /// <summary>True when <paramref name="other"/> is a char tokenizer with the same symbols.</summary>
    public override bool SameAs(Tokenizer other) =>
        other is CharTokenizer c && c.symbols.AsSpan().SequenceEqual(symbols);

    /// <summary>"char (N symbols)".</summary>
    public override string Describe() => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"char ({symbols.Length:N0} symbols)");

    /// <summary>Decodes UTF-8 bytes strictly (invalid bytes are an error naming the offset, never replaced).</summary>
    /// <exception cref="ArgumentException">The bytes are not valid UTF-8.</exception>
    public static string DecodeUtf8(ReadOnlySpan<byte> bytes, string what)
    {
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        try
        {
            var text = strict.GetString(bytes);
            return text.Length > 0 && text[0] == '\uFEFF' ? text[1..] : text;
        }
        catch (DecoderFallbackException e)
        {
            throw new ArgumentException($"{what}: not valid UTF-8 (bad byte at offset {e.Index})", e);
        }
    }

    private static IEnumerable<Rune> EnumerateStrict(string text, string op)
    {
        int i = 0;
        while (i < text.Length)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out int used) != System.Buffers.OperationStatus.Done)
                throw new ArgumentException($"{op}: unpaired surrogate U+{(int)text[i]:X4} at UTF-16 index {i}");
            yield return rune;
            i += used;
        }
    }

    private static string Describe(Rune r) =>
        Rune.IsControl(r) || Rune.IsWhiteSpace(r) ? $"U+{r.Value:X4}" : $"'{r}' (U+{r.Value:X4})";

    private static string Quote(string? s) => s is null ? "null" : "\"" + JsonEncodedText.Encode(s).ToString() + "\"";
}
