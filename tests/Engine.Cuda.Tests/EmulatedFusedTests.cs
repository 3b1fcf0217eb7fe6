using Engine.Cpu;
using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>The native fused kernels (fused.cu) on the host emulation against the CPU backend's fused kernels.</summary>
public class EmulatedFusedTests
{
    private static CudaBackend Gpu => HostEmulator.Registered;
    private static IBackend Cpu => CpuBackend.Instance;

    private static (Storage cpu, Storage gpu) Pair(DType dtype, double[] v) => dtype == DType.Float32
        ? (Cpu.FromHost<float>(v.Select(x => (float)x).ToArray()), Gpu.FromHost<float>(v.Select(x => (float)x).ToArray()))
        : (Cpu.FromHost<double>(v), Gpu.FromHost<double>(v));

    private static (Storage cpu, Storage gpu) Ints(int[] v) => (Cpu.FromHost<int>(v), Gpu.FromHost<int>(v));

    private static void Same(Storage? cpu, Storage? gpu, string what, double scale = 1)
    {
        Assert.Equal(cpu is null, gpu is null);
        if (cpu is null) return;
        TestData.Close(EmulatedKernelTests.Read(Cpu, cpu), EmulatedKernelTests.Read(Gpu, gpu!), cpu.DType, what, scale);
    }

    public static TheoryData<DType> FloatTypes => new(DType.Float32, DType.Float64);

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void LayerNormAndRmsNormForwardAndBackward(DType dtype)
    {
        int rows = 7, cols = 150;
        var x = Pair(dtype, TestData.Values(rows * cols, 1, -3, 3));
        var w = Pair(dtype, TestData.Values(cols, 2, 0.5, 1.5));
        var b = Pair(dtype, TestData.Values(cols, 3));
        var dy = Pair(dtype, TestData.Values(rows * cols, 4));
        foreach (bool rms in new[] { false, true })
            foreach (bool affine in new[] { true, false })
            {
                string n = $"{(rms ? "rms" : "layer")} norm{(affine ? " affine" : "")}";
                var (yc, mc, rc) = Cpu.NormForward(x.cpu, affine ? w.cpu : null, affine && !rms ? b.cpu : null, rows, cols, 1e-5, rms);
                var (yg, mg, rg) = Gpu.NormForward(x.gpu, affine ? w.gpu : null, affine && !rms ? b.gpu : null, rows, cols, 1e-5, rms);
                Same(yc, yg, n + " y", 5); Same(mc, mg, n + " mean", 5); Same(rc, rg, n + " rstd", 5);
                var (dxc, dwc, dbc) = Cpu.NormBackward(x.cpu, affine ? w.cpu : null, affine && !rms, mc, rc, dy.cpu, rows, cols, rms);
                var (dxg, dwg, dbg) = Gpu.NormBackward(x.gpu, affine ? w.gpu : null, affine && !rms, mg, rg, dy.gpu, rows, cols, rms);
                Same(dxc, dxg, n + " dx", 10); Same(dwc, dwg, n + " dw", 10); Same(dbc, dbg, n + " db", 10);
            }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void CrossEntropyWithIgnoredRows(DType dtype)
    {
        int rows = 9, cols = 70;
        var x = Pair(dtype, TestData.Values(rows * cols, 5, -6, 6));
        int[] targets = [3, 69, -100, 0, 12, 12, -100, 41, 7];
        var t = Ints(targets);
        var (lc, sc, nc) = Cpu.CrossEntropyForward(x.cpu, t.cpu, rows, cols, -100);
        var (lg, sg, ng) = Gpu.CrossEntropyForward(x.gpu, t.gpu, rows, cols, -100);
        Assert.Equal(nc, ng);
        Same(lc, lg, "loss", 5); Same(sc, sg, "log-sum-exp", 5);
        Same(Cpu.CrossEntropyBackward(x.cpu, t.cpu, sc, rows, cols, -100, 1.0 / nc), Gpu.CrossEntropyBackward(x.gpu, t.gpu, sg, rows, cols, -100, 1.0 / ng), "dlogits", 5);
        var all = Ints([-100, -100]);
        var (empty, _, zero) = Gpu.CrossEntropyForward(Pair(dtype, TestData.Values(2 * cols, 6)).gpu, all.gpu, 2, cols, -100);
        Assert.Equal(0, zero);
        Assert.True(double.IsNaN(EmulatedKernelTests.Read(Gpu, empty)[0]), "the mean over no rows is NaN, as on the CPU");
    }

    [Fact]
    public void CrossEntropyRejectsABadTargetLikeTheCpu()
    {
        var x = Gpu.FromHost<float>(new float[12]);
        var t = Gpu.FromHost<int>([1, 4, 0]);
        var e = Assert.Throws<ArgumentException>(() => Gpu.CrossEntropyForward(x, t, 3, 4, -100));
        Assert.Equal("cross_entropy: target 4 at row 1 is outside [0, 4) (the number of classes)", e.Message);
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void RopeAndItsInverse(DType dtype)
    {
        int groups = 3, time = 5, dim = 8;
        var x = Pair(dtype, TestData.Values(groups * time * dim, 7));
        var cos = Pair(dtype, Enumerable.Range(0, time * dim / 2).Select(i => Math.Cos(0.3 * i)).ToArray());
        var sin = Pair(dtype, Enumerable.Range(0, time * dim / 2).Select(i => Math.Sin(0.3 * i)).ToArray());
        foreach (bool inverse in new[] { false, true })
            Same(Cpu.Rope(x.cpu, cos.cpu, sin.cpu, groups, time, dim, inverse), Gpu.Rope(x.gpu, cos.gpu, sin.gpu, groups, time, dim, inverse), $"rope inverse={inverse}");
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void AdamWAndSgdStepsInPlace(DType dtype)
    {
        int n = 1000;
        var p = Pair(dtype, TestData.Values(n, 8)); var g = Pair(dtype, TestData.Values(n, 9));
        var m = Pair(dtype, new double[n]); var v = Pair(dtype, new double[n]);
        for (int step = 1; step <= 3; step++)
        {
            Cpu.AdamWStep(p.cpu, g.cpu, m.cpu, v.cpu, 1e-2, 0.9, 0.95, 1e-8, 0.1, step);
            Gpu.AdamWStep(p.gpu, g.gpu, m.gpu, v.gpu, 1e-2, 0.9, 0.95, 1e-8, 0.1, step);
        }
        Same(p.cpu, p.gpu, "adamw params", 5); Same(m.cpu, m.gpu, "adamw m", 5); Same(v.cpu, v.gpu, "adamw v", 5);

        foreach (bool nesterov in new[] { false, true })
        {
            var q = Pair(dtype, TestData.Values(n, 10)); var buf = Pair(dtype, new double[n]);
            for (int step = 0; step < 3; step++)
            {
                Cpu.SgdStep(q.cpu, g.cpu, buf.cpu, 0.1, 0.9, 0.01, nesterov, step == 0);
                Gpu.SgdStep(q.gpu, g.gpu, buf.gpu, 0.1, 0.9, 0.01, nesterov, step == 0);
            }
            Same(q.cpu, q.gpu, $"sgd nesterov={nesterov}", 5); Same(buf.cpu, buf.gpu, "sgd momentum buffer", 5);
        }
        var plain = Pair(dtype, TestData.Values(n, 11));
        Cpu.SgdStep(plain.cpu, g.cpu, null, 0.1, 0, 0, false, true);
        Gpu.SgdStep(plain.gpu, g.gpu, null, 0.1, 0, 0, false, true);
        Same(plain.cpu, plain.gpu, "sgd without momentum");
    }
}
