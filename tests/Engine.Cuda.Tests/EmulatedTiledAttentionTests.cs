using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>
/// The tiled attention kernels (attn_*_tiled, the default) against the per-row reference kernels (attn_*_reference)
/// on the host emulation: output, weights and dq/dk/dv for every family member and option, ragged tiles, query
/// offsets, extreme rows, and memory that grows linearly in T.
/// </summary>
public class EmulatedTiledAttentionTests
{
    // Own backends (not the shared registered one): the reference switch must not leak into tests running in parallel.
    private static readonly Lazy<CudaBackend> TiledBackend = new(() => HostEmulator.NewBackend());
    private static readonly Lazy<CudaBackend> ReferenceBackend = new(() =>
    {
        var b = HostEmulator.NewBackend();
        b.ReferenceAttention = true;
        return b;
    });

    private static CudaBackend Tiled => TiledBackend.Value;
    private static CudaBackend Reference => ReferenceBackend.Value;

    private static Storage Put(CudaBackend b, DType dtype, double[] v) => dtype == DType.Float32
        ? b.FromHost<float>(v.Select(x => (float)x).ToArray())
        : b.FromHost<double>(v);

    private static double[] Read(CudaBackend b, Storage s) => EmulatedKernelTests.Read(b, s);

    private enum Inputs { Random, Large, Negative, IdenticalKeys }

    private static double[][] Make(AttentionDims d, int seed, Inputs kind)
    {
        int nq = d.Batch * d.Heads * d.Queries * d.HeadDim, nk = d.Batch * d.Heads * d.Keys * d.HeadDim;
        var q = kind switch
        {
            Inputs.Large => TestData.Values(nq, seed, -12, 12),     // raw scores of order ±100 in Softmax
            Inputs.Negative => TestData.Values(nq, seed, -3, -1),   // with positive keys: every cosine negative
            _ => TestData.Values(nq, seed),
        };
        var k = kind == Inputs.Negative ? TestData.Values(nk, seed + 1, 0.5, 2) : TestData.Values(nk, seed + 1);
        if (kind == Inputs.IdenticalKeys)
            for (int h = 0; h < d.Batch * d.Heads; h++)
                for (int j = 1; j < d.Keys; j++) Array.Copy(k, h * d.Keys * d.HeadDim, k, (h * d.Keys + j) * d.HeadDim, d.HeadDim);
        return [q, k, TestData.Values(nk, seed + 2), TestData.Values(nq, seed + 3)];
    }

    private static double[][] Run(CudaBackend b, DType dtype, double[][] x, AttentionDims d, AttentionFamily family, bool weights)
    {
        var q = Put(b, dtype, x[0]);
        var k = Put(b, dtype, x[1]);
        var v = Put(b, dtype, x[2]);
        var g = Put(b, dtype, x[3]);
        var y = b.CausalAttentionForward(q, k, v, d, family);
        var (dq, dk, dv) = b.CausalAttentionBackward(q, k, v, g, d, family);
        var result = new List<double[]> { Read(b, y), Read(b, dq), Read(b, dk), Read(b, dv) };
        if (weights) result.Add(Read(b, b.CausalAttentionWeights(q, k, d, family)));
        return result.ToArray();
    }

    private static double Tol(DType dtype, bool reweight) => dtype == DType.Float64 ? (reweight ? 20 : 5) : (reweight ? 60 : 10);

    private static void Check(DType dtype, string label, AttentionDims d, int seed, Inputs kind = Inputs.Random, bool weights = true)
    {
        var spec = AttentionSpec.Parse(label);
        var family = spec.Family(d.HeadDim);
        var x = Make(d, seed, kind);
        var expected = Run(Reference, dtype, x, d, family, weights);
        var actual = Run(Tiled, dtype, x, d, family, weights);
        string[] names = ["output", "dq", "dk", "dv", "weights"];
        string c = $"{label} {dtype.Name()} {kind} B={d.Batch} H={d.Heads} Tq={d.Queries} offset={d.QueryOffset} D={d.HeadDim}";
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.All(actual[i], v => Assert.True(double.IsFinite(v), $"{c} {names[i]}: {v}"));
            TestData.Close(expected[i], actual[i], dtype, $"{c} {names[i]}", Tol(dtype, spec.Reweight));
        }
    }

    public static TheoryData<DType> FloatTypes => new(DType.Float32, DType.Float64);

    private static readonly string[] Members =
    [
        "softmax", "lssa", "lssar", "lssar-p3", "softplus-l1", "softplus-l1-r", "ssmax", "ssmax-r", "sigmoid-l1",
        "sigmoid-l1-r", "softmax-r", "softmax-w5", "lssar-w5", "softmax-alibi", "lssar-alibi", "sigmoid-l1-r-w3-alibi",
        "lssar-nowarm", "softmax-r-nowarm",
    ];

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryMemberMatchesTheReferenceOnRaggedTiles(DType dtype)
    {
        // T = 7 and 33: one ragged query tile, and several key tiles with a ragged tail (tiles of 32/16 or 16/8 rows);
        // the weights (the forward's kernel in its other mode) at T = 7 only, to keep the emulated run short
        int seed = 1000;
        foreach (var label in Members)
        {
            Check(dtype, label, new AttentionDims(1, 2, 7, 7, 8, 0), seed += 10);
            Check(dtype, label, new AttentionDims(1, 1, 33, 33, 16, 0), seed += 10, weights: false);
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void QueryOffsetsAndSingleRows(DType dtype)
    {
        int seed = 2000;
        foreach (var label in new[] { "softmax", "lssar", "sigmoid-l1-r", "softmax-w4-alibi", "ssmax" })
        {
            Check(dtype, label, new AttentionDims(1, 1, 1, 1, 8, 0), seed += 10);              // T = 1
            Check(dtype, label, new AttentionDims(2, 3, 5, 22, 8, 17), seed += 10);            // a chunk after 17 cached keys
            Check(dtype, label, new AttentionDims(1, 1, 1, 40, 16, 39), seed += 10);           // decoding one row
        }
    }

    [Theory]
    [InlineData(DType.Float32, "softmax", 100, 64)]
    [InlineData(DType.Float64, "lssar", 100, 64)]
    [InlineData(DType.Float32, "lssar-p3", 257, 8)]
    [InlineData(DType.Float64, "softmax-w40-alibi", 257, 8)]
    public void LongRowsAndWideHeads(DType dtype, string label, int t, int dim)
    {
        Check(dtype, label, new AttentionDims(1, 1, t, t, dim, 0), 3000 + t, weights: t <= 100);
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ExtremeRowsStayFiniteAndMatch(DType dtype)
    {
        var d = new AttentionDims(1, 2, 20, 20, 8, 0);
        int seed = 4000;
        foreach (var label in new[] { "softmax", "softmax-r", "softmax-alibi", "ssmax-r" })
            Check(dtype, label, d, seed += 10, Inputs.Large);
        foreach (var label in new[] { "sigmoid-l1", "sigmoid-l1-r", "softplus-l1", "softplus-l1-r" })
            Check(dtype, label, d, seed += 10, Inputs.Negative);
        // exact ties: every row uniform up to rounding takes the degenerate-row rule in both kernels
        foreach (var label in new[] { "lssar", "softmax-r", "sigmoid-l1-r", "lssar-p3" })
            Check(dtype, label, new AttentionDims(1, 2, 5, 37, 8, 32), seed += 10, Inputs.IdenticalKeys);
    }

    /// <summary>The device memory one forward and backward call needs beyond its inputs (the allocator's peak).</summary>
    private static long Workspace(CudaBackend b, int t, AttentionFamily family)
    {
        var d = new AttentionDims(1, 1, t, t, 8, 0);
        var x = Make(d, 5000, Inputs.Random);
        using var q = Put(b, DType.Float32, x[0]);
        using var k = Put(b, DType.Float32, x[1]);
        using var v = Put(b, DType.Float32, x[2]);
        using var g = Put(b, DType.Float32, x[3]);
        b.Allocator.ResetPeak();
        long before = b.Allocator.Stats.AllocatedBytes;
        using (b.CausalAttentionForward(q, k, v, d, family)) { }
        var (dq, dk, dv) = b.CausalAttentionBackward(q, k, v, g, d, family);
        dq.Dispose(); dk.Dispose(); dv.Dispose();
        return b.Allocator.Stats.PeakAllocatedBytes - before;
    }

    [Fact]
    public void NoTimesTWorkspaceIsAllocated()
    {
        // peak memory linear in T: x4 from T = 256 to 1024 (a T x T buffer would make it x16), and far below T^2
        var b = HostEmulator.NewBackend();
        var family = AttentionSpec.Softmax.Family(8);
        long small = Workspace(b, 256, family), large = Workspace(b, 1024, family);
        Assert.True(large <= 5 * small, $"workspace {small} bytes at T = 256, {large} at T = 1024");
        Assert.True(large < 1024L * 1024 * sizeof(float) / 8, $"workspace {large} bytes at T = 1024");
    }

    [Fact]
    public void TileSizesMatchTheKernelSourceAndFitStaticSharedMemory()
    {
        string source = Runtime.KernelSources.Read("attention_tiled.cu");
        int Define(string name) => int.Parse(System.Text.RegularExpressions.Regex.Match(source, $@"#define {name} (\d+)").Groups[1].Value);
        Assert.Equal(CudaBackend.AttentionTiles.Threads, Define("ATTN_TILE_THREADS"));
        Assert.Equal(CudaBackend.AttentionTiles.MaxHeadDim, Define("ATTN_TILE_DMAX"));
        Assert.Equal(CudaBackend.AttentionTiles.Queries(DType.Float32), Define("ATTN_FWD_Q_F32"));
        Assert.Equal(CudaBackend.AttentionTiles.Queries(DType.Float64), Define("ATTN_FWD_Q_F64"));
        Assert.Equal(CudaBackend.AttentionTiles.Keys(DType.Float32), Define("ATTN_KEYS_F32"));
        Assert.Equal(CudaBackend.AttentionTiles.Keys(DType.Float64), Define("ATTN_KEYS_F64"));
        int dmax = Define("ATTN_TILE_DMAX"), threads = Define("ATTN_TILE_THREADS");
        foreach (var (t, size) in new[] { ("F32", 4), ("F64", 8) })
        {
            int q = Define("ATTN_FWD_Q_" + t), k = Define("ATTN_FWD_K_" + t), bk = Define("ATTN_BWD_K_" + t), kb = Define("ATTN_KEYS_" + t);
            // the __shared__ arrays of attn_fwd_tiled, attn_bwd_rows_tiled and attn_bwd_keys_tiled
            long fwd = (q * dmax + 2 * k * dmax + q * k + threads) * (long)size;
            long rows = (2 * q * dmax + 2 * bk * dmax + q * bk + threads) * (long)size;
            long keys = (4 * kb * dmax + 2 * kb * kb + kb * 8 + threads) * (long)size;
            foreach (var bytes in new[] { fwd, rows, keys }) Assert.True(bytes <= 48 * 1024, $"{t}: {bytes} bytes of shared memory");
            // every row group owns a whole number of threads
            foreach (var rowsPerBlock in new[] { q, kb }) Assert.Equal(0, threads % rowsPerBlock);
        }
    }

    [Fact]
    public void TheTiledKernelsAreTheDefault()
    {
        var b = HostEmulator.NewBackend();
        Assert.False(b.ReferenceAttention);
        Assert.Contains("attn_fwd_tiled_f32", HostEmulator.KernelNames);
        Assert.Contains("attn_fwd_reference_f32", HostEmulator.KernelNames);
    }
}
