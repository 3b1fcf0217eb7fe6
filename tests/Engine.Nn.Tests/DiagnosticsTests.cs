using Engine.Nn.Data;
using Engine.Nn.Diagnostics;
using Engine.Nn.Evaluation;

namespace Engine.Nn.Tests;

public class EvaluatorPositionTests
{
    private static int[] Tokens(int n, int vocab, ulong seed)
    {
        var rng = new Rng(seed);
        return Enumerable.Range(0, n).Select(_ => (int)(rng.NextUInt64() % (ulong)vocab)).ToArray();
    }

    [Fact]
    public void PositionSumsMatchADirectPerPositionComputation()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 3);
        var tokens = Tokens(200, 7, 5);
        const int len = 16;
        var ev = new Evaluator(tokens, len, spanTokens: 128, maxBatchTokens: len);
        var result = ev.EvaluateByPosition(model);
        Assert.Equal(len, result.Length);
        Assert.All(result.PositionTokens, n => Assert.Equal(8, n));

        model.Eval();
        var expected = new double[len];
        for (int w = 0; w < 8; w++)
        {
            var logits = model.Forward(Tensor.FromArray<int>(tokens.AsSpan(w * len, len), [1, len])).ToDoubleArray();
            for (int p = 0; p < len; p++)
            {
                var row = logits.AsSpan(p * 7, 7);
                double max = row.ToArray().Max(), z = 0;
                foreach (var v in row) z += Math.Exp(v - max);
                expected[p] += max + Math.Log(z) - row[tokens[w * len + p + 1]];
            }
        }
        for (int p = 0; p < len; p++) Assert.Equal(expected[p], result.PositionLossSums[p], 9);
        Assert.Equal(expected.Sum() / 128, result.MeanLoss, 9);
        Assert.Equal(result.MeanLoss, ev.Evaluate(model), 12);
        // Batched windows score the same predictions.
        var batched = new Evaluator(tokens, len, spanTokens: 128, maxBatchTokens: 3 * len).EvaluateByPosition(model);
        for (int p = 0; p < len; p++) Assert.Equal(result.PositionLossSums[p], batched.PositionLossSums[p], 4);
    }

    [Fact]
    public void BucketsAndCurveWeightedByTokensGiveBackTheMean()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 4);
        var result = new Evaluator(Tokens(400, 7, 9), 40, spanTokens: 320).EvaluateByPosition(model);
        var buckets = result.Buckets(6);
        Assert.Equal([(0, 6), (6, 12), (12, 24), (24, 40)], buckets.Select(b => (b.From, b.To)).ToArray());
        var curve = result.Curve(EvaluationResult.CurveWidth(6));
        Assert.Equal(40, curve.Count);   // width 6/4 → 1
        foreach (var bins in new[] { buckets, curve, result.Curve(7) })
        {
            Assert.Equal(result.Length * 8L, bins.Sum(b => b.Tokens));
            Assert.Equal(result.MeanLoss, bins.Sum(b => b.MeanLoss * b.Tokens) / bins.Sum(b => b.Tokens), 12);
        }
        Assert.Equal((35, 40), (result.Curve(7)[^1].From, result.Curve(7)[^1].To));
        Assert.Single(result.Buckets(40));
        Assert.Throws<ArgumentException>(() => result.Bin([4, 4]));
        Assert.Throws<ArgumentOutOfRangeException>(() => result.Buckets(0));
    }
}

public class AttentionStatisticsTests
{
    private static int[] Tokens(int n) => Enumerable.Range(0, n).Select(i => (i * 5 + i / 7) % 7).ToArray();

    /// <summary>Entropy, far mass (i − j ≥ far) and sink mass (j &lt; sink) of rows [from, to) of one head, from the full maps.</summary>
    private static (double Entropy, double Far, double Sink) Direct(Tensor w, int head, int from, int to, int far, int sink)
    {
        int b = w.Dim(0), t = w.Dim(2);
        double e = 0, f = 0, s = 0;
        for (int win = 0; win < b; win++)
            for (int i = from; i < to; i++)
                for (int j = 0; j <= i; j++)
                {
                    double p = w[win, head, i, j];
                    if (p > 0) e -= p * Math.Log(p);
                    if (i - j >= far) f += p;
                    if (j < sink) s += p;
                }
        int n = b * (to - from);
        return (e / n, f / n, s / n);
    }

    public static TheoryData<string, int> Cases => new() { { "softmax", 1 }, { "lssar", 1 }, { "lssa", 1 << 22 }, { "softmax", 100 } };

    [Theory, MemberData(nameof(Cases))]
    public void StreamedStatisticsEqualThoseOfTheFullWeights(string attention, int chunkElements)
    {
        var model = new Gpt(GptTests.Tiny() with { Attention = AttentionSpec.Parse(attention) }, seed: 7);
        model.Eval();
        const int len = 24, windows = 3;
        var tokens = Tokens(windows * len + 5);
        var options = new AttentionStatisticsOptions { FarDistance = 8, SinkTokens = 3, MaxBatchTokens = 2 * len, MaxChunkElements = chunkElements };
        var stats = AttentionStatistics.Measure(model, tokens, len, windows, options);
        var maps = model.AttentionMaps(Tensor.FromArray<int>(tokens.AsSpan(0, windows * len), [windows, len]));
        for (int layer = 0; layer < 2; layer++)
            for (int head = 0; head < 2; head++)
                foreach (var (from, to) in new[] { (0, len), (8, 16), (20, 21) })
                {
                    var got = stats.Summary(layer, head, from, to);
                    var want = Direct(maps[layer], head, from, to, 8, 3);
                    Assert.Equal(want.Entropy, got.Entropy, 1e-6);
                    Assert.Equal(want.Far, got.FarMass, 1e-6);
                    Assert.Equal(want.Sink, got.SinkMass, 1e-6);
                    Assert.Equal(windows * (to - from), got.Rows);
                }
        Assert.True(stats.Summary(1, 0).FarMass > 0);
        Assert.All(model.Blocks, b => Assert.False(b.Attention.CaptureQueriesKeys));
    }

    [Fact]
    public void MeasuresTheInferenceAttentionAndRestoresTrainingMode()
    {
        var model = new Gpt(GptTests.Tiny() with { InferenceAttention = AttentionSpec.Lssar }, seed: 5);
        var tokens = Tokens(32);
        var stats = AttentionStatistics.Measure(model, tokens, 16, 2, new AttentionStatisticsOptions { FarDistance = 8 });
        Assert.True(model.Training);
        var trainingMaps = model.AttentionMaps(Tensor.FromArray<int>(tokens, [2, 16]));
        model.Eval();
        var evalMaps = model.AttentionMaps(Tensor.FromArray<int>(tokens, [2, 16]));
        var got = stats.Summary(0, 1).Entropy;
        Assert.Equal(Direct(evalMaps[0], 1, 0, 16, 8, 4).Entropy, got, 1e-6);
        Assert.True(Math.Abs(Direct(trainingMaps[0], 1, 0, 16, 8, 4).Entropy - got) > 1e-3);
    }

    [Fact]
    public void FarMassIsZeroWhenTheWindowIsAtMostTheFarDistance()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 8);
        var options = new AttentionStatisticsOptions { FarDistance = 8 };
        var within = AttentionStatistics.Measure(model, Tokens(64), 8, 4, options);
        var beyond = AttentionStatistics.Measure(model, Tokens(64), 9, 4, options);
        for (int layer = 0; layer < 2; layer++)
            for (int head = 0; head < 2; head++)
            {
                Assert.Equal(0, within.Summary(layer, head).FarMass);
                Assert.True(beyond.Summary(layer, head, 8, 9).FarMass > 0);
            }
    }

    [Fact]
    public void UniformRowsHaveEntropyLogNAndKeyCountFractions()
    {
        // Zero q and k make every softmax score 0, so row i attends uniformly to its i + 1 keys.
        var model = new Gpt(GptTests.Tiny(), seed: 9);
        var state = model.StateDict().ToDictionary(p => p.Key, p => p.Value);
        foreach (var name in state.Keys.Where(n => n.Contains(".attn.qkv.")).ToArray()) state[name] = Tensor.Zeros(state[name].Shape);
        model.LoadStateDict(state);
        const int len = 20, far = 6, sink = 4;
        var stats = AttentionStatistics.Measure(model, Tokens(40), len, 2, new AttentionStatisticsOptions { FarDistance = far, SinkTokens = sink, MaxChunkElements = 50 });
        for (int layer = 0; layer < 2; layer++)
            for (int head = 0; head < 2; head++)
                for (int i = 0; i < len; i++)
                {
                    var row = stats.Summary(layer, head, i, i + 1);
                    double n = i + 1;
                    Assert.Equal(Math.Log(n), row.Entropy, 1e-6);
                    Assert.Equal(Math.Log(n), row.UniformEntropy, 1e-12);
                    Assert.Equal(Math.Max(0, i - far + 1) / n, row.FarMass, 1e-6);
                    Assert.Equal(Math.Min(sink, n) / n, row.SinkMass, 1e-6);
                }
    }

    [Fact]
    public void BadArgumentsAreClearErrors()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 1);
        var options = new AttentionStatisticsOptions { FarDistance = 8 };
        Assert.Contains("too few", Assert.Throws<ArgumentException>(() => AttentionStatistics.Measure(model, Tokens(30), 16, 2, options)).Message);
        Assert.Contains("far distance", Assert.Throws<ArgumentException>(() => AttentionStatistics.Measure(model, Tokens(30), 8, 1, options with { FarDistance = 0 })).Message);
        var stats = AttentionStatistics.Measure(model, Tokens(30), 8, 1, options);
        Assert.Throws<ArgumentOutOfRangeException>(() => stats.Summary(2, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => stats.Summary(0, 0, 4, 4));
        Assert.Throws<InvalidOperationException>(() => model.Blocks[0].Attention.CapturedWeights(0, 1));
    }

    [Fact]
    public void CapturedWeightsWithACacheSeeTheCachedKeys()
    {
        var model = new Gpt(GptTests.Tiny(), seed: 2);
        model.Eval();
        var ids = new[,] { { 1, 2, 3, 4, 5, 6 } };
        var full = model.AttentionMaps(Tensor.FromArray(ids));
        var cache = model.CreateCache();
        using var _ = new NoGrad();
        model.Forward(Tensor.FromArray(new[,] { { 1, 2, 3, 4 } }), cache);
        model.CaptureQueriesKeys(true);
        model.Forward(Tensor.FromArray(new[,] { { 5, 6 } }), cache);
        var attn = model.Blocks[1].Attention;
        Assert.Equal((2, 4), (attn.CapturedQueries, attn.CapturedQueryOffset));
        var w = attn.CapturedWeights(1, 1);   // query position 5 sees keys 0..5
        Assert.Equal([1, 2, 1, 6], w.Shape);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 6; j++) Assert.Equal((double)full[1][0, h, 5, j], w[0, h, 0, j], 5);
        model.CaptureQueriesKeys(false);
        Assert.Equal(0, attn.CapturedQueries);
    }
}

public class SeedAggregationTests
{
    [Fact]
    public void SeedListsParseInOrder()
    {
        Assert.Equal([3UL, 1UL, 2UL], SeedList.Parse("3, 1,2"));
        Assert.Equal([18446744073709551615UL], SeedList.Parse("18446744073709551615"));
    }

    [Theory]
    [InlineData("0", "'0'")]
    [InlineData("-1", "'-1'")]
    [InlineData("1,x", "'x'")]
    [InlineData("1,,2", "''")]
    [InlineData("", "''")]
    [InlineData("1.5", "'1.5'")]
    [InlineData("2,1,2", "seed 2 is listed twice")]
    public void BadSeedListsNameTheBadEntry(string list, string expected)
    {
        var e = Assert.Throws<ArgumentException>(() => SeedList.Parse(list));
        Assert.Contains(expected, e.Message);
        Assert.StartsWith("--seeds:", e.Message);
    }

    [Fact]
    public void MeanAndSampleStandardDeviation()
    {
        var m = MeanSpread.Of([1.0, 2, 3, 4]);
        Assert.Equal(2.5, m.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 3), m.StandardDeviation, 12);
        Assert.Equal(4, m.Count);
        Assert.Equal("1.0000 ± 1.4142", MeanSpread.Of([0.0, 2]).Format("F4"));
        var one = MeanSpread.Of([5.0]);
        Assert.True(double.IsNaN(one.StandardDeviation));
        Assert.Equal("5.000", one.Format("F3"));
        Assert.Throws<ArgumentException>(() => MeanSpread.Of(Array.Empty<double>()));
    }

    [Fact]
    public void RatiosAreTakenPerSeedBeforeAveraging()
    {
        var r = MeanSpread.OfRatios([2.0, 6], [1.0, 2]);   // ratios 2 and 3; the ratio of means would be 8/3
        Assert.Equal(2.5, r.Mean, 12);
        Assert.Equal(Math.Sqrt(0.5), r.StandardDeviation, 12);
        Assert.Throws<ArgumentException>(() => MeanSpread.OfRatios([1.0], [1.0, 2]));
    }
}
