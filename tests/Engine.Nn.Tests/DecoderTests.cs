using Engine.Autograd;

namespace Engine.Nn.Tests;

/// <summary>The CPU decoder against the tensor path it replaces in generation.</summary>
public class DecoderTests
{
    /// <summary>Big enough for full vectors and tails in every row (C = 48, D = 12, hidden 96, V = 37).</summary>
    private static GptConfig Config(string attention, PositionEmbedding pos, NormKind norm = NormKind.LayerNorm, bool tie = true, bool bias = true) => new()
    {
        VocabSize = 37, ContextLength = 24, Layers = 2, Heads = 4, ModelDim = 48, MlpRatio = 2,
        PositionEmbedding = pos, Norm = norm, TieEmbeddings = tie, Bias = bias, Attention = AttentionSpec.Parse(attention),
    };

    public static TheoryData<string, PositionEmbedding, NormKind, bool, bool, bool> Cases()
    {
        var data = new TheoryData<string, PositionEmbedding, NormKind, bool, bool, bool>();
        // Every attention kind, with and without re-weighting, a window and ALiBi, in both dtypes.
        string[] kinds = ["softmax", "softmax-r", "lssa", "lssar", "softplus-l1", "softplus-l1-r", "ssmax", "ssmax-r", "sigmoid-l1", "sigmoid-l1-r",
            "lssar-p3", "lssar-nowarm", "softmax-w5", "lssar-w7"];
        foreach (var kind in kinds)
        {
            data.Add(kind, PositionEmbedding.Rope, NormKind.LayerNorm, true, true, false);
            data.Add(kind, PositionEmbedding.Rope, NormKind.LayerNorm, true, true, true);
        }
        data.Add("softmax", PositionEmbedding.Alibi, NormKind.LayerNorm, true, true, false);
        data.Add("lssar", PositionEmbedding.Alibi, NormKind.RMSNorm, true, true, true);
        data.Add("softmax", PositionEmbedding.Learned, NormKind.LayerNorm, false, true, false);
        data.Add("lssar", PositionEmbedding.Learned, NormKind.RMSNorm, true, false, true);
        data.Add("lssa", PositionEmbedding.None, NormKind.RMSNorm, false, false, false);
        data.Add("ssmax", PositionEmbedding.None, NormKind.LayerNorm, true, false, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void DecoderLogitsEqualTheTensorPathsBitForBit(string attention, PositionEmbedding pos, NormKind norm, bool tie, bool bias, bool float64)
    {
        var model = Trained(Config(attention, pos, norm, tie, bias), float64);
        var (expected, actual) = BothPaths(model, [5, 1, 30, 2, 17], [9, 36, 0, 4, 4, 21, 8, 13, 2, 33, 7, 19], capacity: 6);
        for (int s = 0; s < expected.Count; s++)
            for (int i = 0; i < expected[s].Length; i++)
                Assert.True(expected[s][i].Equals(actual[s][i]), $"step {s}, logit {i}: tensor path {expected[s][i]:R}, decoder {actual[s][i]:R}");
    }

    [Fact]
    public void InferenceAttentionAndRopeScaleAreTheDecodersToo()
    {
        // A model trained with Softmax that evaluates with LSSAR and interpolated RoPE positions.
        var config = Config("softmax", PositionEmbedding.Rope) with { InferenceAttention = AttentionSpec.Lssar, InferenceRopeScale = 2 };
        var model = Trained(config, float64: false);
        var (expected, actual) = BothPaths(model, [3, 4], [5, 6, 7, 8, 9, 10, 11, 12, 13, 14], capacity: 64);
        for (int s = 0; s < expected.Count; s++) Assert.Equal(expected[s], actual[s]);
        // and the decoder did change the attention: LSSAR's logits are not Softmax's
        var plain = Trained(config with { InferenceAttention = null, InferenceRopeScale = 1 }, float64: false);
        var (softmax, _) = BothPaths(plain, [3, 4], [5], capacity: 8);
        Assert.NotEqual(softmax[0], expected[0]);
    }

    [Theory]
    [InlineData("lssar")]
    [InlineData("softmax")]
    public void ASequenceAfterClearIsReadAsByAFreshDecoder(string attention)
    {
        // The attention keeps each head's prepared keys between tokens; after Clear they belong to another sequence.
        var model = Trained(Config(attention, PositionEmbedding.Rope), float64: false);
        using var used = CpuDecoder.TryCreate(model, 32)!;
        using var fresh = CpuDecoder.TryCreate(model, 32)!;
        double[] a = new double[37], b = new double[37];
        used.Step([1, 2, 3], a);
        for (int t = 0; t < 6; t++) used.Step([(t * 5) % 37], a);
        used.Clear();
        int[][] steps = [[7], [8], [9], [10], [11], [12, 13, 14], [15], [16]];
        foreach (var ids in steps)
        {
            used.Step(ids, a);
            fresh.Step(ids, b);
            Assert.Equal(b, a);
        }
    }

    [Fact]
    public void TheDecoderTakesOverOnlyWhereItCoversTheModel()
    {
        var model = new Gpt(Config("lssar", PositionEmbedding.Rope), seed: 3);
        using (var d = CpuDecoder.TryCreate(model, 8)) Assert.NotNull(d);
        using (new NoGrad())
        {
            AnomalyMode.IsEnabled = true;
            try { Assert.Null(CpuDecoder.TryCreate(model, 8)); }
            finally { AnomalyMode.IsEnabled = false; }
            using (Autocast.BFloat16()) Assert.Null(CpuDecoder.TryCreate(model, 8));
            model.CaptureQueriesKeys(true);
            Assert.Null(CpuDecoder.TryCreate(model, 8));
            model.CaptureQueriesKeys(false);
        }
        Assert.Null(CpuDecoder.TryCreate(new Gpt(Config("lssar", PositionEmbedding.Rope), seed: 3, DType.BFloat16), 8));
    }

    [Fact]
    public void BadTokensAndPositionsAreErrorsThatNameThem()
    {
        var model = new Gpt(Config("softmax", PositionEmbedding.Learned), seed: 2);
        using var decoder = CpuDecoder.TryCreate(model, 4)!;
        var logits = new double[37];
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => decoder.Step([1, 37], logits));
        Assert.Contains("token id 37", bad.Message);
        Assert.Equal(0, decoder.Length);
        Assert.Throws<ArgumentException>(() => decoder.Step([1], new double[5]));
        decoder.Step(Enumerable.Range(0, 24).Select(i => i % 37).ToArray(), logits);
        var past = Assert.Throws<ArgumentException>(() => decoder.Step([1], logits));
        Assert.Contains("exceed the learned position table of 24", past.Message);
    }

    [Fact]
    public void GeneratedTokensAllocateNothing()
    {
        var model = new Gpt(Config("lssar", PositionEmbedding.Rope) with { ContextLength = 16 }, seed: 6);
        using var decoder = CpuDecoder.TryCreate(model, 600)!;
        var logits = new double[37];
        decoder.Step([1, 2, 3], logits);
        Span<int> one = stackalloc int[1];
        for (int i = 0; i < 16; i++) { one[0] = i % 37; decoder.Step(one, logits); }   // warm-up (JIT, pools)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 500; i++) { one[0] = (i * 7) % 37; decoder.Step(one, logits); }
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(bytes == 0, $"500 generated tokens allocated {bytes} bytes on this thread");
        Assert.All(logits, v => Assert.True(double.IsFinite(v)));
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("lssar")]
    public void ADecodersRoomPerPositionIsItsCacheAndTransposedKeys(string attention)
    {
        // Per position of capacity: each layer's keys and values (2·C), and per head its attention session's transposed
        // (for LSSA normalised) key (D) and one column of its four score rows: nothing else grows with the capacity.
        var config = Config(attention, PositionEmbedding.Rope);
        var model = new Gpt(config, seed: 6);
        long Made(int capacity)
        {
            long least = long.MaxValue;
            for (int i = 0; i < 3; i++)   // the least of a few: the runtime's own allocations on this thread come and go
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                using (CpuDecoder.TryCreate(model, capacity)!) { }
                least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            return least;
        }
        const int n = 1000;
        Made(n);
        double perPosition = (Made(2 * n) - Made(n)) / (double)n;
        double expected = config.Layers * (2 * config.ModelDim + config.Heads * (config.HeadDim + 4)) * sizeof(float);
        Assert.InRange(perPosition, expected - 1, expected + 1);
    }

    /// <summary>A model a few optimiser steps away from its initialisation, so that biases and norms are not 0 and 1.</summary>
    private static Gpt Trained(GptConfig config, bool float64)
    {
        var model = new Gpt(config, seed: 17, float64 ? DType.Float64 : DType.Float32);
        var rng = new Rng(23);
        using (new NoGrad())
            model.LoadStateDict(model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Add(Tensor.RandN(p.Parameter.Shape, rng, p.Parameter.DType, 0, 0.05))));
        return model;
    }

    /// <summary>The logits of the prompt's last token and after each appended token, from the tensor path and from the decoder.</summary>
    private static (List<double[]> Tensor, List<double[]> Decoder) BothPaths(Gpt model, int[] prompt, int[] appended, int capacity)
    {
        var result = (new List<double[]>(), new List<double[]>());
        using (new NoGrad())
        {
            using var reference = new TextGenerator.TensorDecoder(model, capacity);
            using var decoder = CpuDecoder.TryCreate(model, capacity) ?? throw new InvalidOperationException("no decoder for this model");
            foreach (var (list, d) in new (List<double[]>, ISequenceDecoder)[] { (result.Item1, reference), (result.Item2, decoder) })
            {
                var logits = new double[model.Config.VocabSize];
                d.Step(prompt, logits);
                list.Add((double[])logits.Clone());
                foreach (var t in appended)
                {
                    d.Step([t], logits);
                    list.Add((double[])logits.Clone());
                }
            }
        }
        return result;
    }
}
