using Engine.Cpu;
using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>
/// The native causal attention kernels (attention.cu) on the host emulation against the CPU backend's fused kernel:
/// every family member and option, forward, weights and the handwritten backward, then through autograd.
/// </summary>
public class EmulatedAttentionTests
{
    private static CudaBackend Gpu => HostEmulator.Registered;
    private static IBackend Cpu => CpuBackend.Instance;

    private static (Storage cpu, Storage gpu) Pair(DType dtype, double[] v) => dtype == DType.Float32
        ? (Cpu.FromHost<float>(v.Select(x => (float)x).ToArray()), Gpu.FromHost<float>(v.Select(x => (float)x).ToArray()))
        : (Cpu.FromHost<double>(v), Gpu.FromHost<double>(v));

    private static void Same(Storage cpu, Storage gpu, string what, double scale)
    {
        Assert.Equal(cpu.Length, gpu.Length);
        TestData.Close(EmulatedKernelTests.Read(Cpu, cpu), EmulatedKernelTests.Read(Gpu, gpu), cpu.DType, what, scale);
    }

    /// <summary>Inputs for one call; <paramref name="zeroRows"/> zeroes query rows (all scores 0: uniform first stage).</summary>
    private static ((Storage cpu, Storage gpu) q, (Storage cpu, Storage gpu) k, (Storage cpu, Storage gpu) v, (Storage cpu, Storage gpu) g)
        Inputs(DType dtype, AttentionDims d, int seed, bool negativeScores = false, int[]? zeroRows = null, bool zeroKey = false, bool identicalKeys = false)
    {
        int nq = d.Batch * d.Heads * d.Queries * d.HeadDim, nk = d.Batch * d.Heads * d.Keys * d.HeadDim;
        var q = negativeScores ? TestData.Values(nq, seed, -3, -1) : TestData.Values(nq, seed);
        var k = negativeScores ? TestData.Values(nk, seed + 1, 0.5, 2) : TestData.Values(nk, seed + 1);
        foreach (int r in zeroRows ?? []) Array.Clear(q, r * d.HeadDim, d.HeadDim);
        if (zeroKey) Array.Clear(k, d.HeadDim, d.HeadDim); // key 1 of the first head: the norm guard
        if (identicalKeys)                                 // every key of a head equal to its first: exact ties
            for (int h = 0; h < d.Batch * d.Heads; h++)
                for (int j = 1; j < d.Keys; j++) Array.Copy(k, h * d.Keys * d.HeadDim, k, (h * d.Keys + j) * d.HeadDim, d.HeadDim);
        return (Pair(dtype, q), Pair(dtype, k), Pair(dtype, TestData.Values(nk, seed + 2)), Pair(dtype, TestData.Values(nq, seed + 3)));
    }

    private static void Check(DType dtype, AttentionSpec spec, AttentionDims d, int seed, double scale, bool negativeScores = false, int[]? zeroRows = null, bool zeroKey = false, bool identicalKeys = false)
    {
        var family = spec.Family(d.HeadDim);
        var (q, k, v, g) = Inputs(dtype, d, seed, negativeScores, zeroRows, zeroKey, identicalKeys);
        string c = $"{spec.Label} {dtype.Name()} Tq={d.Queries} offset={d.QueryOffset}";
        Same(Cpu.CausalAttentionForward(q.cpu, k.cpu, v.cpu, d, family), Gpu.CausalAttentionForward(q.gpu, k.gpu, v.gpu, d, family), c + " output", scale);
        Same(Cpu.CausalAttentionWeights(q.cpu, k.cpu, d, family), Gpu.CausalAttentionWeights(q.gpu, k.gpu, d, family), c + " weights", scale);
        var (dqc, dkc, dvc) = Cpu.CausalAttentionBackward(q.cpu, k.cpu, v.cpu, g.cpu, d, family);
        var (dqg, dkg, dvg) = Gpu.CausalAttentionBackward(q.gpu, k.gpu, v.gpu, g.gpu, d, family);
        Same(dqc, dqg, c + " dq", scale);
        Same(dkc, dkg, c + " dk", scale);
        Same(dvc, dvg, c + " dv", scale);
    }

    public static TheoryData<DType> FloatTypes => new(DType.Float32, DType.Float64);

    private static double Tol(DType dtype, bool reweight) => dtype == DType.Float64 ? (reweight ? 20 : 5) : (reweight ? 60 : 10);

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void WindowsAlibiAndSigmoidMatchTheCpuWithOffsetsAndSeveralHeads(DType dtype)
    {
        // Three heads (ALiBi's slopes for a count that is not a power of two), a cache offset and windows shorter
        // than, equal to and longer than the rows.
        var d = new AttentionDims(2, 3, 5, 12, 8, 7);
        int seed = 500;
        foreach (var label in new[] { "softmax-w1", "softmax-w4-alibi", "lssar-w6-alibi", "ssmax-r-w12", "sigmoid-l1-r-w5", "softplus-l1-alibi", "ssmax-alibi" })
        {
            var spec = AttentionSpec.Parse(label);
            Check(dtype, spec, d, seed += 10, Tol(dtype, spec.Reweight));
        }
        // identical keys: every row uniform up to rounding takes the degenerate-row rule on both backends
        Check(dtype, AttentionSpec.Lssar, new AttentionDims(1, 2, 5, 37, 8, 32), 603, Tol(dtype, true), identicalKeys: true);
        Check(dtype, AttentionSpec.SoftmaxReweighted, new AttentionDims(1, 1, 3, 21, 4, 18), 604, Tol(dtype, true), identicalKeys: true);
        // every cosine negative: the sigmoid's shifted form
        Check(dtype, AttentionSpec.SigmoidL1 with { Reweight = true }, new AttentionDims(1, 2, 6, 9, 4, 3), 601, Tol(dtype, true), negativeScores: true);
        Check(dtype, AttentionSpec.SigmoidL1, new AttentionDims(1, 2, 6, 9, 4, 3), 602, Tol(dtype, false), negativeScores: true);
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryVariantMatchesTheCpuOnAFullSequence(DType dtype)
    {
        var d = new AttentionDims(1, 1, 6, 6, 8, 0); // rows 1–3 (o = 0) and 4–6 (o = 1)
        string[] labels = ["softmax", "softmax-r", "lssa", "lssar", "softplus-l1", "softplus-l1-r", "lssar-p3", "lssar-p2.5",
            "ssmax", "ssmax-r", "sigmoid-l1", "sigmoid-l1-r", "softmax-w3", "lssar-w4", "softmax-alibi", "lssar-alibi", "lssar-nowarm"];
        int seed = 1;
        foreach (var label in labels)
        {
            var spec = AttentionSpec.Parse(label);
            Check(dtype, spec, d, seed += 10, Tol(dtype, spec.Reweight));
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void QueryOffsetsAndScaleDimension(DType dtype)
    {
        // decoding with a cache: 2 new rows after 5 cached positions, and a single row after 1 (n = 2: still o = 0)
        Check(dtype, AttentionSpec.Lssar, new AttentionDims(2, 1, 2, 7, 8, 5), 101, Tol(dtype, true));
        Check(dtype, AttentionSpec.SoftmaxReweighted, new AttentionDims(1, 2, 1, 2, 4, 1), 102, Tol(dtype, true));
        Check(dtype, AttentionSpec.Lssa with { ScaleDim = 512 }, new AttentionDims(1, 1, 3, 5, 8, 2), 103, Tol(dtype, false));
        // one row that sees one key
        Check(dtype, AttentionSpec.Lssar, new AttentionDims(1, 1, 1, 1, 8, 0), 104, Tol(dtype, true));
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ViewsOfACacheAndOfTheFusedProjectionMatchTheCpu(DType dtype)
    {
        // What generation passes without a recorded gradient: q a head of a fused [B, T, 3, H, D] projection, k and
        // v the first Tk positions of [B, H, capacity, D] buffers. The CPU reads them in place; the CUDA backend
        // takes the interface's default (compact copies, then its kernel), so it must equal its own compact call.
        var d = new AttentionDims(1, 2, 1, 12, 8, 11);
        const int capacity = 32;
        var family = AttentionSpec.Lssar.Family(d.HeadDim);
        var fused = Pair(dtype, TestData.Values(d.Queries * 3 * d.Heads * d.HeadDim, 7));
        var kBuffer = Pair(dtype, TestData.Values(d.Heads * capacity * d.HeadDim, 8));
        var vBuffer = Pair(dtype, TestData.Values(d.Heads * capacity * d.HeadDim, 9));
        var lq = new Layout([1, d.Heads, d.Queries, d.HeadDim], [d.Queries * 3 * d.Heads * d.HeadDim, d.HeadDim, 3 * d.Heads * d.HeadDim, 1], 0);
        var lkv = new Layout([1, d.Heads, d.Keys, d.HeadDim], [d.Heads * capacity * d.HeadDim, capacity * d.HeadDim, d.HeadDim, 1], 0);
        var cpu = Cpu.CausalAttentionForward(fused.cpu, lq, kBuffer.cpu, lkv, vBuffer.cpu, lkv, d, family);
        var gpu = ((IBackend)Gpu).CausalAttentionForward(fused.gpu, lq, kBuffer.gpu, lkv, vBuffer.gpu, lkv, d, family);
        Same(cpu, gpu, $"views {dtype.Name()}", Tol(dtype, true));
        var compact = Gpu.CausalAttentionForward(Gpu.Contiguous(fused.gpu, lq), Gpu.Contiguous(kBuffer.gpu, lkv), Gpu.Contiguous(vBuffer.gpu, lkv), d, family);
        Assert.Equal(EmulatedKernelTests.Read(Gpu, compact), EmulatedKernelTests.Read(Gpu, gpu));
    }

    [Fact]
    public void LongRowsSpanSeveralTiles()
    {
        // Tq = 70: a row of 70 keys spans two tiles of the 64-thread blocks the emulated backend launches, and the
        // key-gradient blocks see between 1 and 70 rows; head dimension 5 is not a multiple of anything. (Float32 rows
        // of several tiles: ExtremeRowsStayFiniteInFloat32.)
        Check(DType.Float64, AttentionSpec.Lssar, new AttentionDims(1, 1, 70, 70, 5, 0), 201, Tol(DType.Float64, true));
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EdgeRows(DType dtype)
    {
        var d = new AttentionDims(1, 2, 8, 8, 8, 0);
        // every score negative: the Softplus form that factors out e^max
        Check(dtype, AttentionSpec.SoftplusL1 with { Reweight = true }, d, 301, Tol(dtype, true), negativeScores: true);
        Check(dtype, AttentionSpec.SoftplusL1, d, 302, Tol(dtype, false), negativeScores: true);
        // zero query rows under Softmax: exactly uniform first-stage rows; with o = 1 (rows 3 and 7 of head 0, n = 4
        // and 8) every r is 0 and the row falls back to its first-stage weights, with o = 0 (row 1 of head 1, n = 2) the
        // re-weighting keeps them uniform; a zero key tests the norm guard of LSSA
        Check(dtype, AttentionSpec.SoftmaxReweighted, d, 303, Tol(dtype, true), zeroRows: [3, 7, 9]);
        Check(dtype, AttentionSpec.Lssar, d, 304, Tol(dtype, true), zeroRows: [2], zeroKey: true);
    }

    [Fact]
    public void DegenerateRowsKeepTheirFirstStageWeights()
    {
        var d = new AttentionDims(1, 1, 4, 4, 4, 0);
        var (q, k, _, _) = Inputs(DType.Float64, d, 401, zeroRows: [3]);
        var w = EmulatedKernelTests.Read(Gpu, Gpu.CausalAttentionWeights(q.gpu, k.gpu, d, AttentionSpec.SoftmaxReweighted.Family(d.HeadDim)));
        Assert.Equal([0.25, 0.25, 0.25, 0.25], w.Skip(12));
    }

    [Fact]
    public void ExtremeRowsStayFiniteInFloat32()
    {
        // one query row at position 512: LSSAR with cosines exactly ±1 (q parallel or antiparallel to every key), and
        // Softmax with re-weighting on scores from ±20 to ±100, where the top key has a ≈ 1, so x^p ≈ 511^15 would
        // overflow float32 without the division by max x.
        const int n = 512, dim = 4;
        var d = new AttentionDims(1, 1, 1, n, dim, n - 1);
        var q = new double[dim];
        var k = new double[n * dim];
        for (int t = 0; t < dim; t++) q[t] = 0.5;
        for (int j = 0; j < n; j++)
            for (int t = 0; t < dim; t++) k[j * dim + t] = (j % 3 == 0 ? -1 : 1) * (1 + j % 5);
        var v = TestData.Values(n * dim, 501);
        var g = TestData.Values(dim, 502);
        foreach (var (spec, qScale) in new[] { (AttentionSpec.Lssar, 1.0), (AttentionSpec.SoftmaxReweighted, 20.0) })
        {
            var family = spec.Family(dim);
            var (qc, qg) = Pair(DType.Float32, q.Select(x => x * qScale).ToArray());
            var (kc, kg) = Pair(DType.Float32, k);
            var (vc, vg) = Pair(DType.Float32, v);
            var (gc, gg) = Pair(DType.Float32, g);
            var y = Gpu.CausalAttentionForward(qg, kg, vg, d, family);
            var (dq, dk, dv) = Gpu.CausalAttentionBackward(qg, kg, vg, gg, d, family);
            foreach (var (s, what) in new[] { (y, "output"), (dq, "dq"), (dk, "dk"), (dv, "dv") })
                Assert.All(EmulatedKernelTests.Read(Gpu, s), x => Assert.True(double.IsFinite(x), $"{spec.Label} {what}: {x}"));
            Same(Cpu.CausalAttentionForward(qc, kc, vc, d, family), y, spec.Label + " output", 60);
            var (dqc, dkc, dvc) = Cpu.CausalAttentionBackward(qc, kc, vc, gc, d, family);
            Same(dqc, dq, spec.Label + " dq", 60); Same(dkc, dk, spec.Label + " dk", 60); Same(dvc, dv, spec.Label + " dv", 60);
        }
    }

    private static Tensor[] Gradients(Device device, DType dtype, AttentionSpec spec, int queryOffset)
    {
        int b = 1, h = 2, tq = 5, dim = 6, tk = queryOffset + tq;
        Tensor T(int[] shape, int seed) => Tensor.FromDoubles(TestData.Values(shape.Aggregate(1, (x, y) => x * y), seed), shape, dtype, device);
        var q = T([b, h, tq, dim], 1).RequireGrad();
        var kv = T([b, tk, h, 2 * dim], 2).RequireGrad();          // k and v as strided views of one tensor
        var k = kv.Narrow(3, 0, dim).Transpose(1, 2);
        var v = kv.Narrow(3, dim, dim).Transpose(1, 2);
        var weights = T([b, h, tq, dim], 3);
        var y = Tensor.CausalAttention(q, k, v, spec, queryOffset);
        y.Mul(weights).Sum().Backward();
        return [y.To(Device.Cpu), q.Grad!.To(Device.Cpu), kv.Grad!.To(Device.Cpu)];
    }

    [Theory]
    [InlineData(DType.Float64, "lssar", 0)]
    [InlineData(DType.Float64, "softmax", 2)]
    [InlineData(DType.Float32, "lssar", 3)]
    [InlineData(DType.Float32, "softplus-l1-r-p3", 0)]
    public void AutogradThroughTheNativeKernelsMatchesTheCpu(DType dtype, string label, int queryOffset)
    {
        _ = HostEmulator.Registered;
        var spec = AttentionSpec.Parse(label);
        var cpu = Gradients(Device.Cpu, dtype, spec, queryOffset);
        var gpu = Gradients(HostEmulator.Device, dtype, spec, queryOffset);
        string[] names = ["output", "dq", "d(k, v)"];
        for (int i = 0; i < cpu.Length; i++)
            TestData.Close(cpu[i].ToDoubleArray(), gpu[i].ToDoubleArray(), dtype, $"{label} {names[i]}", Tol(dtype, spec.Reweight));
    }

    [Fact]
    public void KernelArgumentsMatchTheAttnArgsStruct()
    {
        // fourteen ints, then seven doubles (8-byte aligned): the layout of AttnArgs in attention.cuh
        Assert.Equal(14 * 4 + 7 * 8, System.Runtime.CompilerServices.Unsafe.SizeOf<CudaBackend.AttentionArgs>());
        string source = KernelSources_Attention;
        int start = source.IndexOf("struct AttnArgs {", StringComparison.Ordinal), end = source.IndexOf("};", start, StringComparison.Ordinal);
        var fields = source[start..end].Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("int ", StringComparison.Ordinal) || l.StartsWith("double ", StringComparison.Ordinal)).ToArray();
        Assert.Equal(14, fields.Count(f => f.StartsWith("int ", StringComparison.Ordinal)));
        Assert.Equal(7, fields.Count(f => f.StartsWith("double ", StringComparison.Ordinal)));
        Assert.StartsWith("double tie;", fields[^1]);
    }

    private static string KernelSources_Attention => Runtime.KernelSources.Read("attention.cuh");
}
