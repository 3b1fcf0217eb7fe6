using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Engine.Nn.Data;

/// <summary>
/// Where a corpus came from, stored in each checkpoint so that evaluation can rebuild the same validation text:
/// either the embedded generator (<see cref="Synthetic"/>, with its seed and length) or a UTF-8 file (with its
/// SHA-256, so a changed file is noticed).
/// </summary>
public sealed record DataSource
{
    /// <summary>"synthetic" or "file".</summary>
    public required string Kind { get; init; }
    /// <summary>Generator options when <see cref="Kind"/> is "synthetic".</summary>
    public SyntheticCorpusOptions? Synthetic { get; init; }
    /// <summary>The absolute path when <see cref="Kind"/> is "file" (checkpoints of older builds may hold a relative one).</summary>
    public string? Path { get; init; }
    /// <summary>Lower-case hex SHA-256 of the file bytes, or of the generated text's UTF-8 bytes.</summary>
    public string? Sha256 { get; init; }

    /// <summary>The synthetic source with these options.</summary>
    public static DataSource FromSynthetic(SyntheticCorpusOptions options) => new() { Kind = "synthetic", Synthetic = options };

    /// <summary>Short description for logs: "synthetic(seed=1, chars=1000000)" or the file path.</summary>
    public override string ToString() => Kind == "synthetic" && Synthetic is { } s
        ? $"synthetic(seed={s.Seed}, chars={s.Characters})"
        : $"file({Path})";

    /// <summary>Writes the source as a JSON object.</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("kind", Kind);
        if (Synthetic is { } s)
        {
            w.WriteNumber("seed", s.Seed);
            w.WriteNumber("characters", s.Characters);
        }
        if (Path is not null) w.WriteString("path", Path);
        if (Sha256 is not null) w.WriteString("sha256", Sha256);
        w.WriteEndObject();
    }

    /// <summary>Reads a source written by <see cref="WriteJson"/>.</summary>
    /// <exception cref="FormatException">The JSON does not describe a known source.</exception>
    public static DataSource ReadJson(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new FormatException("data source: expected a JSON object");
        string kind = e.TryGetProperty("kind", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString()! : throw new FormatException("data source: missing \"kind\"");
        string? sha = e.TryGetProperty("sha256", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString() : null;
        switch (kind)
        {
            case "synthetic":
                if (!e.TryGetProperty("seed", out var seed) || !seed.TryGetUInt64(out ulong seedValue)) throw new FormatException("data source: synthetic source needs an unsigned \"seed\"");
                if (!e.TryGetProperty("characters", out var chars) || !chars.TryGetInt32(out int charCount) || charCount < 1) throw new FormatException("data source: synthetic source needs a positive \"characters\"");
                return new DataSource { Kind = kind, Synthetic = new SyntheticCorpusOptions { Seed = seedValue, Characters = charCount }, Sha256 = sha };
            case "file":
                string path = e.TryGetProperty("path", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : throw new FormatException("data source: file source needs a \"path\"");
                return new DataSource { Kind = kind, Path = path, Sha256 = sha };
            default:
                throw new FormatException($"data source: unknown kind \"{kind}\" (expected \"synthetic\" or \"file\")");
        }
    }
}

/// <summary>
/// A corpus ready for training: its tokenizer, token ids (with the UTF-8 bytes each stands for, for bits per byte),
/// and a split into a training part and a validation part (the last <see cref="ValidationFraction"/> of the tokens, so
/// validation text is never trained on).
/// </summary>
public sealed class TextDataset
{
    /// <summary>The largest corpus file read unless a caller passes another limit (256 MiB: about 1 GiB of token ids).</summary>
    public const long DefaultMaxFileBytes = 256L * 1024 * 1024;

    /// <summary>The default fraction of tokens, taken from the end, held out for validation.</summary>
    public const double DefaultValidationFraction = 0.1;

    private TextDataset(DataSource source, Tokenizer tokenizer, TokenizedText text, double validationFraction)
    {
        var tokens = text.Ids;
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "dataset: validation fraction must be in (0, 1)");
        int valCount = (int)Math.Round(tokens.Length * validationFraction);
        if (valCount < 2 || tokens.Length - valCount < 2)
            throw new ArgumentException($"dataset: {tokens.Length} tokens are too few to split {validationFraction:0.###} of them off for validation (each part needs at least 2)");
        Source = source;
        Tokenizer = tokenizer;
        Tokens = tokens;
        TokenBytes = text.ByteLengths;
        UnknownTokens = text.UnknownCount;
        ValidationFraction = validationFraction;
        Train = tokens[..^valCount];
        Validation = tokens[^valCount..];
        ValidationBytes = text.ByteLengths[^valCount..];
    }

    /// <summary>Where the text came from.</summary>
    public DataSource Source { get; }
    /// <summary>The tokenizer (built from the whole text unless one was given).</summary>
    public Tokenizer Tokenizer { get; }
    /// <summary>All token ids.</summary>
    public int[] Tokens { get; }
    /// <summary>The UTF-8 bytes of the text behind each token (aligned with <see cref="Tokens"/>).</summary>
    public int[] TokenBytes { get; }
    /// <summary>
    /// Tokens encoded as the tokenizer's unknown id (a <see cref="TokenizerKind.Gpt2Used"/> tokenizer given for a
    /// text it was not built from); 0 for a tokenizer built from this text.
    /// </summary>
    public int UnknownTokens { get; }
    /// <summary>The fraction held out for validation.</summary>
    public double ValidationFraction { get; }
    /// <summary>The training tokens (the first part).</summary>
    public int[] Train { get; }
    /// <summary>The validation tokens (the last part).</summary>
    public int[] Validation { get; }
    /// <summary>The UTF-8 bytes behind each validation token (aligned with <see cref="Validation"/>), for bits per byte.</summary>
    public int[] ValidationBytes { get; }

    /// <summary>
    /// A dataset from text. Builds a tokenizer of <paramref name="kind"/> from the text (<see cref="Tokenizer.Create"/>)
    /// unless <paramref name="tokenizer"/> is given.
    /// </summary>
    public static TextDataset FromText(string text, DataSource source, Tokenizer? tokenizer = null, double validationFraction = DefaultValidationFraction,
        TokenizerKind kind = TokenizerKind.Char)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        tokenizer ??= Tokenizer.Create(kind, text);
        return new TextDataset(source, tokenizer, tokenizer.Tokenize(text), validationFraction);
    }

    /// <summary>
    /// The same text and split with another tokenizer that holds every symbol of this one (e.g. the vocabulary
    /// extended by <see cref="PasskeyPrompts.WithAlphabet"/>): the token ids are re-mapped, the text is not re-read.
    /// </summary>
    /// <exception cref="ArgumentException">The tokenizer lacks a symbol of this dataset's vocabulary, or this dataset is not tokenized by characters.</exception>
    public TextDataset WithTokenizer(CharTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (Tokenizer is not CharTokenizer chars)
            throw new ArgumentException($"dataset: only a char-tokenized dataset can be re-mapped to another char vocabulary (this one is {Tokenizer.Describe()})", nameof(tokenizer));
        var map = chars.Symbols.Select(symbol => tokenizer.Encode(symbol)[0]).ToArray();
        var tokens = Array.ConvertAll(Tokens, id => map[id]);
        return new TextDataset(Source, tokenizer, new TokenizedText(tokens, TokenBytes, 0), ValidationFraction);
    }

    /// <summary>The embedded default corpus, tokenized by <paramref name="tokenizer"/> or else by a new one of <paramref name="kind"/>.</summary>
    public static TextDataset Synthetic(SyntheticCorpusOptions options, Tokenizer? tokenizer = null, double validationFraction = DefaultValidationFraction,
        TokenizerKind kind = TokenizerKind.Char)
    {
        var text = SyntheticCorpus.Generate(options);
        var source = DataSource.FromSynthetic(options) with { Sha256 = Sha256Hex(Encoding.UTF8.GetBytes(text)) };
        return FromText(text, source, tokenizer, validationFraction, kind);
    }

    /// <summary>
    /// A UTF-8 text file (a regular file of at most <paramref name="maxBytes"/> bytes) as a corpus, tokenized by
    /// <paramref name="tokenizer"/> or else by a new one of <paramref name="kind"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="IOException">The path is not a regular file (a FIFO, a device, a directory) or cannot be read.</exception>
    /// <exception cref="InputTooLargeException">The file is larger than <paramref name="maxBytes"/>.</exception>
    /// <exception cref="ArgumentException">The file is not valid UTF-8, is empty, or (with a tokenizer) has characters outside its vocabulary.</exception>
    public static TextDataset FromFile(string path, Tokenizer? tokenizer = null, double validationFraction = DefaultValidationFraction, string? expectedSha256 = null,
        long maxBytes = DefaultMaxFileBytes, TokenizerKind kind = TokenizerKind.Char)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = RegularFile.ReadAllBytes(path, maxBytes, $"dataset: corpus file '{path}'");
        var sha = Sha256Hex(bytes);
        if (expectedSha256 is not null && !string.Equals(sha, expectedSha256, StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"dataset: corpus file '{path}' has SHA-256 {sha}, but the checkpoint was trained on a file with SHA-256 {expectedSha256}");
        var text = CharTokenizer.DecodeUtf8(bytes, $"dataset: corpus file '{path}'");
        if (text.Length == 0) throw new ArgumentException($"dataset: corpus file '{path}' is empty");
        // The absolute path, so that a checkpoint can be evaluated or resumed from any directory.
        return FromText(text, new DataSource { Kind = "file", Path = System.IO.Path.GetFullPath(path), Sha256 = sha }, tokenizer, validationFraction, kind);
    }

    /// <summary>
    /// Rebuilds a dataset from a stored source (for evaluation of a checkpoint), encoding with the checkpoint's
    /// tokenizer. A file source is re-read from its path and checked against the stored hash.
    /// </summary>
    public static TextDataset Load(DataSource source, Tokenizer tokenizer, double validationFraction = DefaultValidationFraction, long maxBytes = DefaultMaxFileBytes)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Kind switch
        {
            "synthetic" => Synthetic(source.Synthetic ?? throw new ArgumentException("dataset: synthetic source without options"), tokenizer, validationFraction),
            "file" => FromFile(source.Path ?? throw new ArgumentException("dataset: file source without a path"), tokenizer, validationFraction, source.Sha256, maxBytes),
            _ => throw new ArgumentException($"dataset: unknown source kind '{source.Kind}'"),
        };
    }

    /// <summary>
    /// Opens "synthetic" (the embedded default corpus with <paramref name="synthetic"/> options) or a file path,
    /// tokenized by <paramref name="tokenizer"/> or else by a new one of <paramref name="kind"/> built from the text.
    /// </summary>
    public static TextDataset Open(string data, SyntheticCorpusOptions? synthetic = null, Tokenizer? tokenizer = null, double validationFraction = DefaultValidationFraction,
        long maxBytes = DefaultMaxFileBytes, TokenizerKind kind = TokenizerKind.Char) =>
        string.Equals(data, "synthetic", StringComparison.OrdinalIgnoreCase)
            ? Synthetic(synthetic ?? new SyntheticCorpusOptions(), tokenizer, validationFraction, kind)
            : FromFile(data, tokenizer, validationFraction, maxBytes: maxBytes, kind: kind);

    /// <summary>Lower-case hex SHA-256 of bytes.</summary>
    public static string Sha256Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
