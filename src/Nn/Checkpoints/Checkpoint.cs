using System.Text;
using System.Text.Json;
using Engine.Nn.Data;

namespace Engine.Nn.Checkpoints;

/// <summary>
/// Everything in a checkpoint except the tensors, stored as <c>checkpoint.json</c>: the step, the model
/// configuration, the tokenizer, the data source, the batch sampler's state, and the trainer's and optimiser's
/// settings and scalar state. The model and optimiser configurations are kept as JSON objects written by their
/// owners, so this class does not depend on any one model.
/// </summary>
public sealed class CheckpointMetadata
{
    /// <summary>Version of the checkpoint layout.</summary>
    public const int FormatVersion = 1;

    /// <summary>Optimiser steps taken when the checkpoint was written.</summary>
    public required long Step { get; init; }
    /// <summary>The model configuration (a JSON object).</summary>
    public required string ModelJson { get; init; }
    /// <summary>The tokenizer (<c>"tokenizer"</c>, with its <c>"kind"</c>; one without a kind is a char vocabulary).</summary>
    public required Tokenizer Tokenizer { get; init; }
    /// <summary>Where the training text came from.</summary>
    public required DataSource Data { get; init; }
    /// <summary>The batch sampler's state, for exact resume (absent in exported models).</summary>
    public SamplerState? Sampler { get; init; }
    /// <summary>Other generators' states by name (e.g. "dropout"), for exact resume.</summary>
    public IReadOnlyDictionary<string, ulong[]> RngStates { get; init; } = new Dictionary<string, ulong[]>();
    /// <summary>The trainer's configuration (a JSON object), if any.</summary>
    public string? TrainingJson { get; init; }
    /// <summary>The optimiser's scalar state and settings (a JSON object), if any; its tensors are in optimizer.safetensors.</summary>
    public string? OptimizerJson { get; init; }

    /// <summary>The JSON text of checkpoint.json.</summary>
    public string ToJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("format", "engine.checkpoint");
            w.WriteNumber("version", FormatVersion);
            w.WriteNumber("step", Step);
            w.WritePropertyName("model");
            WriteObject(w, ModelJson, "model");
            w.WritePropertyName("tokenizer");
            w.WriteRawValue(Tokenizer.ToJson());
            w.WritePropertyName("data");
            Data.WriteJson(w);
            if (Sampler is { } s)
            {
                w.WriteStartObject("sampler");
                w.WriteStartArray("rng");
                foreach (var word in s.Rng) w.WriteNumberValue(word);
                w.WriteEndArray();
                w.WriteNumber("batches", s.Batches);
                w.WriteEndObject();
            }
            if (RngStates.Count > 0)
            {
                w.WriteStartObject("rng");
                foreach (var (name, state) in RngStates.OrderBy(p => p.Key, StringComparer.Ordinal))
                {
                    w.WriteStartArray(name);
                    foreach (var word in state) w.WriteNumberValue(word);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            if (TrainingJson is not null) { w.WritePropertyName("training"); WriteObject(w, TrainingJson, "training"); }
            if (OptimizerJson is not null) { w.WritePropertyName("optimizer"); WriteObject(w, OptimizerJson, "optimizer"); }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteObject(Utf8JsonWriter w, string json, string what)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ArgumentException($"checkpoint: the {what} configuration must be a JSON object");
        doc.RootElement.WriteTo(w);
    }

    /// <summary>Reads checkpoint.json text; <paramref name="path"/> is only used in messages.</summary>
    /// <exception cref="CheckpointException">The JSON is malformed or lacks a required field.</exception>
    public static CheckpointMetadata FromJson(string json, string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("the root must be an object");
            if (!root.TryGetProperty("format", out var f) || f.ValueKind != JsonValueKind.String || f.GetString() != "engine.checkpoint")
                throw new FormatException("\"format\" must be \"engine.checkpoint\"");
            if (!root.TryGetProperty("version", out var v) || !v.TryGetInt32(out int version)) throw new FormatException("missing \"version\"");
            if (version != FormatVersion) throw new FormatException($"version {version} is not supported (this build reads version {FormatVersion})");
            if (!root.TryGetProperty("step", out var st) || !st.TryGetInt64(out long step) || step < 0) throw new FormatException("\"step\" must be a non-negative integer");
            var model = Required(root, "model", JsonValueKind.Object);
            var tokenizer = Tokenizer.Read(Required(root, "tokenizer", JsonValueKind.Object));
            var data = DataSource.ReadJson(Required(root, "data", JsonValueKind.Object));
            SamplerState? sampler = null;
            if (root.TryGetProperty("sampler", out var s))
            {
                var words = RngWords(Required(s, "rng", JsonValueKind.Array), "sampler.rng");
                if (!Required(s, "batches", JsonValueKind.Number).TryGetInt64(out long batches) || batches < 0) throw new FormatException("sampler.batches must be a non-negative integer");
                sampler = new SamplerState(words, batches);
            }
            var rngStates = new Dictionary<string, ulong[]>(StringComparer.Ordinal);
            if (root.TryGetProperty("rng", out var rngs))
            {
                if (rngs.ValueKind != JsonValueKind.Object) throw new FormatException("\"rng\" must be a JSON object");
                foreach (var p in rngs.EnumerateObject())
                    if (!rngStates.TryAdd(p.Name, RngWords(p.Value, $"rng.{p.Name}"))) throw new FormatException($"rng.{p.Name} appears twice");
            }
            return new CheckpointMetadata
            {
                Step = step,
                ModelJson = model.GetRawText(),
                Tokenizer = tokenizer,
                Data = data,
                Sampler = sampler,
                RngStates = rngStates,
                TrainingJson = root.TryGetProperty("training", out var t) ? Object(t, "training") : null,
                OptimizerJson = root.TryGetProperty("optimizer", out var o) ? Object(o, "optimizer") : null,
            };
        }
        catch (Exception e) when (e is JsonException or FormatException or InvalidOperationException or ArgumentException)
        {
            throw new CheckpointException($"{path}: {e.Message}", e);
        }

        static ulong[] RngWords(JsonElement rng, string what)
        {
            if (rng.ValueKind != JsonValueKind.Array || rng.GetArrayLength() != 4) throw new FormatException($"{what} must be an array of 4 words");
            var words = new ulong[4];
            for (int i = 0; i < 4; i++)
                if (!rng[i].TryGetUInt64(out words[i])) throw new FormatException($"{what}[{i}] is not an unsigned 64-bit integer");
            if ((words[0] | words[1] | words[2] | words[3]) == 0) throw new FormatException($"{what} must not be all zero");
            return words;
        }

        static JsonElement Required(JsonElement e, string name, JsonValueKind kind) =>
            e.TryGetProperty(name, out var p) && p.ValueKind == kind ? p : throw new FormatException($"\"{name}\" must be a JSON {kind.ToString().ToLowerInvariant()}");

        static string Object(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object ? e.GetRawText() : throw new FormatException($"\"{name}\" must be a JSON object");
    }
}

/// <summary>
/// Saves and opens checkpoints: a directory with <c>model.safetensors</c>, <c>optimizer.safetensors</c> (when there
/// is optimiser state) and <c>checkpoint.json</c>, written atomically through a <see cref="CheckpointStore"/>.
/// </summary>
public static class Checkpoint
{
    /// <summary>Metadata file name.</summary>
    public const string MetadataFile = "checkpoint.json";
    /// <summary>Model weights file name.</summary>
    public const string ModelFile = "model.safetensors";
    /// <summary>Optimiser state file name.</summary>
    public const string OptimizerFile = "optimizer.safetensors";

    /// <summary>Largest accepted checkpoint.json.</summary>
    public const long MaxMetadataBytes = 64L * 1024 * 1024;

    /// <summary>Writes a checkpoint into <paramref name="store"/> atomically and returns its directory.</summary>
    public static string Save(CheckpointStore store, CheckpointMetadata metadata,
        IReadOnlyList<KeyValuePair<string, Tensor>> model, IReadOnlyList<KeyValuePair<string, Tensor>>? optimizer = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(metadata);
        ArgumentNullException.ThrowIfNull(model);
        string json = metadata.ToJson();
        var stamp = new Dictionary<string, string> { ["format"] = "engine.checkpoint", ["step"] = metadata.Step.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var files = new List<KeyValuePair<string, Action<Stream>>>
        {
            new(ModelFile, s => SafeTensors.Write(s, model, stamp)),
        };
        if (optimizer is { Count: > 0 }) files.Add(new(OptimizerFile, s => SafeTensors.Write(s, optimizer, stamp)));
        files.Add(new(MetadataFile, s => s.Write(Encoding.UTF8.GetBytes(json))));
        return store.Save(metadata.Step, files);
    }

    /// <summary>
    /// Opens the checkpoint at <paramref name="path"/> (a checkpoint directory, or a run directory whose
    /// <c>latest</c> pointer names one) and reads its metadata. Tensors are read on demand with the expected specs.
    /// </summary>
    /// <exception cref="CheckpointException">The checkpoint is missing or its metadata is malformed.</exception>
    public static CheckpointReader Open(string path)
    {
        string dir = CheckpointStore.Resolve(path, MetadataFile);
        string file = Path.Combine(dir, MetadataFile);
        byte[] bytes;
        try { bytes = RegularFile.ReadAllBytes(file, MaxMetadataBytes, file); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CheckpointException(e.Message, e); }
        string json;
        try { json = CharTokenizer.DecodeUtf8(bytes, file); }
        catch (ArgumentException e) { throw new CheckpointException(e.Message, e); }
        return new CheckpointReader(dir, CheckpointMetadata.FromJson(json, file));
    }
}

/// <summary>An opened checkpoint: its metadata, and its tensors read against expected specs.</summary>
public sealed class CheckpointReader
{
    internal CheckpointReader(string directory, CheckpointMetadata metadata)
    {
        Directory = directory;
        Metadata = metadata;
    }

    /// <summary>The checkpoint directory.</summary>
    public string Directory { get; }
    /// <summary>The metadata.</summary>
    public CheckpointMetadata Metadata { get; }

    /// <summary>
    /// Refuses a model trained with another kind of tokenizer than <paramref name="asked"/>, naming both;
    /// <paramref name="what"/> says who asks (e.g. "--tokenizer gpt2").
    /// </summary>
    /// <exception cref="CheckpointException">The stored tokenizer is of another kind.</exception>
    public void RequireTokenizer(TokenizerKind asked, string what)
    {
        ArgumentNullException.ThrowIfNull(what);
        if (Metadata.Tokenizer.Kind != asked)
            throw new CheckpointException(
                $"{Directory}: the checkpoint was trained with the {Metadata.Tokenizer.Describe()} tokenizer, but {what} asks for '{Tokenizer.Name(asked)}'");
    }

    /// <summary>True when the checkpoint has optimiser state.</summary>
    public bool HasOptimizerState => File.Exists(Path.Combine(Directory, Checkpoint.OptimizerFile));

    /// <summary>Reads the model tensors, checking names, dtypes and shapes against <paramref name="expected"/>.</summary>
    /// <exception cref="CheckpointException">The file is corrupted or does not match.</exception>
    public Dictionary<string, Tensor> ReadModel(IReadOnlyDictionary<string, TensorSpec> expected) => ReadFile(Checkpoint.ModelFile, expected, "model");

    /// <summary>Reads the optimiser tensors, checking names, dtypes and shapes against <paramref name="expected"/>.</summary>
    /// <exception cref="CheckpointException">The file is missing, corrupted or does not match.</exception>
    public Dictionary<string, Tensor> ReadOptimizer(IReadOnlyDictionary<string, TensorSpec> expected) => ReadFile(Checkpoint.OptimizerFile, expected, "optimizer");

    /// <summary>Checks the model file's header against <paramref name="expected"/> without reading tensor data.</summary>
    /// <exception cref="CheckpointException">The file is missing, corrupted or does not match.</exception>
    public void CheckModel(IReadOnlyDictionary<string, TensorSpec> expected)
    {
        using var reader = SafeTensors.Open(Path.Combine(Directory, Checkpoint.ModelFile));
        reader.Check(expected, "model configuration in " + Checkpoint.MetadataFile);
    }

    private Dictionary<string, Tensor> ReadFile(string name, IReadOnlyDictionary<string, TensorSpec> expected, string what)
    {
        using var reader = SafeTensors.Open(Path.Combine(Directory, name));
        return reader.ReadAll(expected, what);
    }
}
