using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;

namespace Engine.Nn.Tests;

internal sealed class TempDir : IDisposable
{
    public TempDir() => System.IO.Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"engine-test-{Guid.NewGuid():N}");
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { System.IO.Directory.Delete(Path, true); } catch (IOException) { } }
}

public class CheckpointSafeTensorsTests
{
    internal static List<KeyValuePair<string, Tensor>> Sample() =>
    [
        new("embed.weight", Tensor.RandN([5, 3], 1)),
        new("blocks.0.w", Tensor.RandN([2, 3, 4], 2, DType.Float64)),
        new("ids", Tensor.FromArray<int>([1, -2, int.MaxValue], [3])),
        new("scalar", Tensor.Scalar(2.5)),
        new("empty", Tensor.Zeros([0, 4])),
    ];

    [Fact]
    public void RoundTripKeepsNamesDTypesShapesAndBits()
    {
        using var dir = new TempDir();
        var tensors = Sample();
        SafeTensors.Save(dir["a.safetensors"], tensors, new Dictionary<string, string> { ["note"] = "hi" });
        using var r = SafeTensors.Open(dir["a.safetensors"]);
        Assert.Equal(tensors.Select(t => t.Key), r.Entries.Select(e => e.Name));
        Assert.Equal("hi", r.Metadata["note"]);
        Assert.Equal(64, r.Metadata[SafeTensors.ChecksumKey].Length);
        var back = r.ReadAll(tensors.ToDictionary(t => t.Key, t => TensorSpec.Of(t.Value)));
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.DType, back[name].DType);
            Assert.Equal(t.Shape, back[name].Shape);
            Assert.Equal(t.ToDoubleArray(), back[name].ToDoubleArray());
        }
    }

    [Fact]
    public void LayoutFollowsTheSafetensorsSpecification()
    {
        using var dir = new TempDir();
        SafeTensors.Save(dir["a.safetensors"], [new("w", Tensor.FromArray<float>([1f, -2f], [1, 2]))]);
        var bytes = File.ReadAllBytes(dir["a.safetensors"]);
        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var w = header.RootElement.GetProperty("w");
        Assert.Equal("F32", w.GetProperty("dtype").GetString());
        Assert.Equal([1, 2], w.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal([0, 8], w.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(8 + n + 8, bytes.Length);
        Assert.Equal(-2f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)(8 + n + 4))));
    }

    [Fact]
    public void CorruptedTensorDataIsDetectedByTheChecksum()
    {
        using var dir = new TempDir();
        SafeTensors.Save(dir["a"], Sample());
        var bytes = File.ReadAllBytes(dir["a"]);
        bytes[^3] ^= 0x10;
        File.WriteAllBytes(dir["a"], bytes);
        Assert.Contains("corrupted", Assert.Throws<CheckpointException>(() => SafeTensors.Open(dir["a"])).Message);
        Assert.Throws<ArgumentException>(() => SafeTensors.Save(dir["b"], Sample(), new Dictionary<string, string> { [SafeTensors.ChecksumKey] = "x" }));
    }

    [Fact]
    public void MismatchesNameTheTensor()
    {
        using var dir = new TempDir();
        var tensors = Sample();
        SafeTensors.Save(dir["a.safetensors"], tensors);
        var spec = tensors.ToDictionary(t => t.Key, t => TensorSpec.Of(t.Value));
        using var r = SafeTensors.Open(dir["a.safetensors"]);

        var wrongShape = new Dictionary<string, TensorSpec>(spec) { ["embed.weight"] = new(DType.Float32, [5, 4]) };
        var e = Assert.Throws<CheckpointException>(() => r.ReadAll(wrongShape));
        Assert.Contains("'embed.weight'", e.Message);
        Assert.Contains("[5, 3]", e.Message);

        var wrongType = new Dictionary<string, TensorSpec>(spec) { ["ids"] = new(DType.Float32, [3]) };
        Assert.Contains("'ids' has dtype I32", Assert.Throws<CheckpointException>(() => r.ReadAll(wrongType)).Message);

        var missing = new Dictionary<string, TensorSpec>(spec) { ["head.bias"] = new(DType.Float32, [5]) };
        Assert.Contains("'head.bias'", Assert.Throws<CheckpointException>(() => r.ReadAll(missing)).Message);

        var fewer = new Dictionary<string, TensorSpec>(spec);
        fewer.Remove("scalar");
        Assert.Contains("'scalar' in the file is not part of the model", Assert.Throws<CheckpointException>(() => r.ReadAll(fewer)).Message);
    }

    private static byte[] Handmade(string header, int dataBytes)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "hole")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "trailing")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8000000000]}}", 8, "past the data section")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[100000,100000],\"data_offsets\":[0,8]}}", 8, "more than")]
    [InlineData("{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "'BF16' is not supported")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "twice")]
    [InlineData("[1,2]", 0, "must be a JSON object")]
    [InlineData("{\"a\":", 0, "not valid JSON")]
    public void MalformedHeadersAreClearErrors(string header, int dataBytes, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir["x"], Handmade(header, dataBytes));
        var e = Assert.Throws<CheckpointException>(() => SafeTensors.Open(dir["x"]).Dispose());
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void HugeOrTruncatedHeaderLengthIsRejectedBeforeAllocating()
    {
        using var dir = new TempDir();
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        File.WriteAllBytes(dir["x"], bytes);
        Assert.Contains("exceeds the limit", Assert.Throws<CheckpointException>(() => SafeTensors.Open(dir["x"])).Message);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1000);
        File.WriteAllBytes(dir["x"], bytes);
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => SafeTensors.Open(dir["x"])).Message);
        File.WriteAllBytes(dir["x"], bytes[..5]);
        Assert.Contains("truncated", Assert.Throws<CheckpointException>(() => SafeTensors.Open(dir["x"])).Message);
    }

    [Fact]
    public void FuzzedFilesFailOnlyWithCheckpointException()
    {
        using var dir = new TempDir();
        var tensors = Sample();
        var spec = tensors.ToDictionary(t => t.Key, t => TensorSpec.Of(t.Value));
        SafeTensors.Save(dir["good"], tensors, new Dictionary<string, string> { ["k"] = "v" });
        var good = File.ReadAllBytes(dir["good"]);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        var rng = new Rng(2024);
        int failures = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            byte[] bad;
            int kind = trial % 4;
            if (kind == 0) bad = good[..rng.NextInt(good.Length)];                               // truncation
            else
            {
                bad = (byte[])good.Clone();
                int flips = 1 + rng.NextInt(4);
                for (int f = 0; f < flips; f++)
                {
                    // Mostly aim at the length prefix and the header, where the parser must defend itself.
                    int at = kind == 3 ? rng.NextInt(bad.Length) : rng.NextInt(headerEnd);
                    bad[at] = kind == 1 ? (byte)(bad[at] ^ (1 << rng.NextInt(8))) : (byte)rng.NextInt(256);
                }
            }
            File.WriteAllBytes(dir["bad"], bad);
            try
            {
                using var r = SafeTensors.Open(dir["bad"]);
                var read = r.ReadAll(spec);
                // Not detected: then nothing that matters changed (e.g. a flip turned a padding space into a tab).
                foreach (var (name, t) in tensors) Assert.Equal(t.ToDoubleArray(), read[name].ToDoubleArray());
            }
            catch (CheckpointException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                failures++;
            }
        }
        Assert.True(failures > 380, $"only {failures} of 400 corruptions were detected");
    }
}

public class CheckpointStoreTests
{
    private static CheckpointMetadata Meta(long step) => new()
    {
        Step = step,
        ModelJson = "{\"layers\":2,\"dim\":8}",
        Tokenizer = CharTokenizer.FromText("abc\n"),
        Data = DataSource.FromSynthetic(new SyntheticCorpusOptions { Seed = 3, Characters = 1000 }),
        Sampler = new SamplerState([1, 2, 3, ulong.MaxValue], 17),
        TrainingJson = "{\"lr\":0.001}",
        OptimizerJson = "{\"step\":5}",
    };

    private static List<KeyValuePair<string, Tensor>> Weights(int seed) => [new("w", Tensor.RandN([4, 4], (ulong)seed)), new("b", Tensor.RandN([4], (ulong)seed + 100))];

    private static Dictionary<string, TensorSpec> Spec => new() { ["w"] = new(DType.Float32, [4, 4]), ["b"] = new(DType.Float32, [4]) };

    [Fact]
    public void SaveThenOpenRoundTripsEverything()
    {
        using var dir = new TempDir();
        var store = new CheckpointStore(dir.Path);
        var w = Weights(1);
        var path = Checkpoint.Save(store, Meta(10), w, [new("m.w", Tensor.Ones([4, 4]))]);
        Assert.EndsWith("step-00000010", path);
        var r = Checkpoint.Open(dir.Path);
        Assert.Equal(10, r.Metadata.Step);
        Assert.Equal([1UL, 2, 3, ulong.MaxValue], r.Metadata.Sampler!.Rng);
        Assert.Equal(17, r.Metadata.Sampler.Batches);
        Assert.Equal(["\n", "a", "b", "c"], ((CharTokenizer)r.Metadata.Tokenizer).Symbols);
        Assert.Equal(3UL, r.Metadata.Data.Synthetic!.Seed);
        Assert.Equal(2, JsonDocument.Parse(r.Metadata.ModelJson).RootElement.GetProperty("layers").GetInt32());
        Assert.Contains("0.001", r.Metadata.TrainingJson);
        var model = r.ReadModel(Spec);
        Assert.Equal(w[0].Value.ToArray<float>(), model["w"].ToArray<float>());
        Assert.True(r.HasOptimizerState);
        Assert.Equal(16, r.ReadOptimizer(new Dictionary<string, TensorSpec> { ["m.w"] = new(DType.Float32, [4, 4]) })["m.w"].ToArray<float>().Sum());
        // A checkpoint directory can be opened directly too.
        Assert.Equal(10, Checkpoint.Open(path).Metadata.Step);
    }

    [Theory]
    [InlineData(1)]      // crash at the start of the model file
    [InlineData(150)]    // crash inside the model file's tensor data
    [InlineData(400)]    // crash inside checkpoint.json, the last file
    public void CrashMidWriteLeavesThePreviousCheckpointIntact(int bytesBeforeCrash)
    {
        using var dir = new TempDir();
        var store = new CheckpointStore(dir.Path);
        var first = Weights(1);
        Checkpoint.Save(store, Meta(10), first);
        var budget = new System.Runtime.CompilerServices.StrongBox<int>(bytesBeforeCrash);
        store.WrapStream = s => new CrashingStream(s, budget);
        Assert.Throws<IOException>(() => Checkpoint.Save(store, Meta(20), Weights(2)));
        var r = Checkpoint.Open(dir.Path);
        Assert.Equal(10, r.Metadata.Step);
        Assert.Equal(first[0].Value.ToArray<float>(), r.ReadModel(Spec)["w"].ToArray<float>());
        // The next successful save cleans the leftovers up.
        store.WrapStream = null;
        Checkpoint.Save(store, Meta(30), Weights(3));
        Assert.Equal(30, Checkpoint.Open(dir.Path).Metadata.Step);
        Assert.DoesNotContain(System.IO.Directory.EnumerateDirectories(dir.Path), d => Path.GetFileName(d).StartsWith(".tmp-"));
    }

    [Theory]
    [InlineData("files-written")]
    [InlineData("renamed")]
    public void CrashBeforeThePointerMovesKeepsTheOldCheckpointCurrent(string stage)
    {
        using var dir = new TempDir();
        var store = new CheckpointStore(dir.Path);
        Checkpoint.Save(store, Meta(10), Weights(1));
        store.AfterStage = s => { if (s == stage) throw new IOException("simulated power loss"); };
        Assert.Throws<IOException>(() => Checkpoint.Save(store, Meta(20), Weights(2)));
        Assert.Equal(10, Checkpoint.Open(dir.Path).Metadata.Step);
    }

    [Fact]
    public void KeepsOnlyTheNewestAndNeverOverwritesInPlace()
    {
        using var dir = new TempDir();
        var store = new CheckpointStore(dir.Path, keep: 2);
        foreach (var step in new long[] { 1, 2, 3, 3 }) Checkpoint.Save(store, Meta(step), Weights((int)step));
        var names = System.IO.Directory.EnumerateDirectories(dir.Path).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(["step-00000003", "step-00000003-1"], names);
        Assert.EndsWith("step-00000003-1", Checkpoint.Open(dir.Path).Directory);
    }

    [Fact]
    public void MissingOrBrokenCheckpointsAreClearErrors()
    {
        using var dir = new TempDir();
        Assert.Contains("no such", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir["nope"])).Message);
        Assert.Contains("not a checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir.Path)).Message);
        File.WriteAllText(dir["latest"], "../../etc\n");
        Assert.Contains("does not name a checkpoint", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir.Path)).Message);
        File.WriteAllText(dir["latest"], "step-00000001\n");
        Assert.Contains("has no checkpoint.json", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir.Path)).Message);
        var store = new CheckpointStore(dir.Path);
        var path = Checkpoint.Save(store, Meta(4), Weights(1));
        File.WriteAllText(Path.Combine(path, "checkpoint.json"), "{\"format\":\"engine.checkpoint\",\"version\":1,\"step\":-3}");
        Assert.Contains("step", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir.Path)).Message);
        File.WriteAllText(Path.Combine(path, "checkpoint.json"), "{");
        Assert.Contains("checkpoint.json", Assert.Throws<CheckpointException>(() => Checkpoint.Open(dir.Path)).Message);
    }

    /// <summary>Passes writes through until a byte budget shared by all files of one save is spent, then throws.</summary>
    private sealed class CrashingStream(Stream inner, System.Runtime.CompilerServices.StrongBox<int> left) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            int n = Math.Min(left.Value, buffer.Length);
            inner.Write(buffer[..n]);
            left.Value -= n;
            if (n < buffer.Length) throw new IOException("simulated crash mid-write");
        }
        public override void WriteByte(byte value) => Write([value]);
        public override void Flush() => inner.Flush();
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

/// <summary>checkpoint.json is untrusted: every mutation either loads or fails fast with a CheckpointException, without large allocation.</summary>
public class CheckpointJsonFuzzTests
{
    private static readonly TextDataset Data = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 2, Characters = 4_000 });

    private static readonly Engine.Nn.Training.TrainerConfig Settings = new() { BatchSize = 2, Steps = 2, WarmupSteps = 1, EvalInterval = 1, EvalTokens = 64 };

    /// <summary>A saved checkpoint of a tiny model; returns the checkpoint directory.</summary>
    private static string Save(string runDirectory) =>
        new Engine.Nn.Training.Trainer(new GptConfig { ContextLength = 8, Layers = 1, Heads = 2, ModelDim = 8 }, Settings, Data, runDirectory).SaveCheckpoint();

    private static IEnumerable<string> LeafPaths(System.Text.Json.Nodes.JsonNode node, string path)
    {
        if (path.Length > 0) yield return path;
        if (node is System.Text.Json.Nodes.JsonObject o)
            foreach (var (name, child) in o)
                if (child is not null) foreach (var p in LeafPaths(child, path.Length == 0 ? name : path + "/" + name)) yield return p;
    }

    private static System.Text.Json.Nodes.JsonNode?[] Mutations() =>
    [
        null, 2147483647, -1, -2147483648, 1e18, 1e300, 0, "Bogus", true, new System.Text.Json.Nodes.JsonArray(), new System.Text.Json.Nodes.JsonObject(),
    ];

    [Fact]
    public void HugeModelSizesFailBeforeAllocating()
    {
        using var dir = new TempDir();
        string checkpoint = Save(dir.Path);
        string meta = Path.Combine(checkpoint, Checkpoint.MetadataFile);
        string original = File.ReadAllText(meta);
        foreach (var (field, value) in new[] { ("ModelDim", "8192"), ("MlpRatio", "64"), ("Layers", "1000"), ("Heads", "1024"), ("VocabSize", "2000000") })
        {
            var json = System.Text.Json.Nodes.JsonNode.Parse(original)!;
            json["model"]![field] = System.Text.Json.Nodes.JsonNode.Parse(value);
            if (field == "Heads") json["model"]!["ModelDim"] = 2048;
            File.WriteAllText(meta, json.ToJsonString());
            long before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<CheckpointException>(() => Engine.Nn.Training.GptCheckpoint.Load(dir.Path));
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 64L << 20, $"{field} = {value}: allocated {allocated:N0} bytes before failing ({e.Message})");
            Assert.Contains(checkpoint, e.Message);
        }
    }

    [Fact]
    public void MutatedFieldsLoadOrFailFastWithCheckpointException()
    {
        using var dir = new TempDir();
        string checkpoint = Save(dir.Path);
        string meta = Path.Combine(checkpoint, Checkpoint.MetadataFile);
        string original = File.ReadAllText(meta);
        var paths = LeafPaths(System.Text.Json.Nodes.JsonNode.Parse(original)!, "").ToList();
        int trials = 0, failures = 0;
        foreach (var path in paths)
            foreach (var mutation in Mutations())
            {
                var json = System.Text.Json.Nodes.JsonNode.Parse(original)!.AsObject();
                var parts = path.Split('/');
                var parent = parts[..^1].Aggregate((System.Text.Json.Nodes.JsonNode)json, (n, p) => n[p]!).AsObject();
                if (mutation is null) parent.Remove(parts[^1]);
                else parent[parts[^1]] = mutation.DeepClone();
                File.WriteAllText(meta, json.ToJsonString());
                foreach (var load in new Action[]
                {
                    () => Engine.Nn.Training.GptCheckpoint.Load(dir.Path),
                    () => Engine.Nn.Training.Trainer.Resume(dir.Path, data: Data),
                })
                {
                    trials++;
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    try { load(); }
                    catch (CheckpointException e)
                    {
                        Assert.False(string.IsNullOrWhiteSpace(e.Message));
                        failures++;
                    }
                    catch (Exception e)
                    {
                        Assert.Fail($"{path} = {mutation?.ToJsonString() ?? "(removed)"}: {e.GetType().Name}: {e.Message}");
                    }
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    Assert.True(allocated < 64L << 20, $"{path} = {mutation?.ToJsonString() ?? "(removed)"}: allocated {allocated:N0} bytes");
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"{path} = {mutation?.ToJsonString() ?? "(removed)"}: took {clock.Elapsed}");
                }
            }
        Assert.True(failures > trials / 2, $"only {failures} of {trials} mutations were rejected");
    }
}
