using Engine.Cuda.Runtime;

namespace Engine.Cuda.Tests;

/// <summary>On a real GPU: NVRTC builds every family, ops match the CPU, memory errors are managed. Skipped without a driver.</summary>
public class GpuTests
{
    private static CudaBackend Gpu()
    {
        if (!Cuda.IsAvailable) Assert.Skip("no CUDA driver: " + Cuda.UnavailableReason);
        CudaBackend.Register();
        return CudaBackend.ForDevice(0);
    }

    [Fact]
    public void EveryKernelFamilyCompilesWithNvrtc()
    {
        var gpu = Gpu();
        var device = (CudaDevice)gpu.Api;
        int arch = KernelCompiler.TargetArch(device.DeviceArch);
        foreach (var family in KernelSources.Families)
        {
            var ptx = KernelCompiler.Compile(family, arch);
            Assert.True(ptx.Length > 100 && ptx[^1] == 0, $"{family}: PTX of {ptx.Length} bytes");
            foreach (var name in Emulation.HostEmulator.KernelsIn(KernelSources.Read(family + ".cu")))
                Assert.NotEqual(0, gpu.Api.GetKernel(family, name).Handle);
        }
    }

    [Fact]
    public void OpsAndGradientsMatchTheCpu()
    {
        var dev = Gpu().Device;
        Tensor[] Run(Device d)
        {
            var a = Tensor.RandN([4, 8, 16], 1UL).To(d).RequireGrad();
            var w = Tensor.RandN([16, 12], 2UL).To(d).RequireGrad();
            var y = a.MatMul(w).Gelu().Softmax(-1).Transpose(1, 2).Sum(2).LogSoftmax(-1);
            var loss = y.Mean().Neg();
            loss.Backward();
            return [y.Detach(), a.Grad!, w.Grad!];
        }
        var cpu = Run(Device.Cpu);
        var gpu = Run(dev);
        for (int i = 0; i < cpu.Length; i++)
            TestData.Close(cpu[i].ToDoubleArray(), gpu[i].To(Device.Cpu).ToDoubleArray(), DType.Float32, $"tensor {i}", scale: 50);
    }

    [Fact]
    public void CausalAttentionOfEveryVariantMatchesTheCpu()
    {
        var dev = Gpu().Device;
        foreach (var label in new[] { "softmax", "softmax-r", "lssa", "lssar", "lssar-p3", "softplus-l1", "softplus-l1-r", "ssmax", "sigmoid-l1-r", "softmax-w16", "lssar-w24-alibi" })
            foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            {
                var spec = AttentionSpec.Parse(label);
                Tensor[] Run(Device d)
                {
                    var q = Tensor.RandN([2, 3, 40, 16], 3UL, dtype).To(d).RequireGrad();
                    var k = Tensor.RandN([2, 3, 50, 16], 4UL, dtype).To(d).RequireGrad();
                    var v = Tensor.RandN([2, 3, 50, 16], 5UL, dtype).To(d).RequireGrad();
                    var y = Tensor.CausalAttention(q, k, v, spec, queryOffset: 10);
                    y.Mul(Tensor.RandN([2, 3, 40, 16], 6UL, dtype).To(d)).Sum().Backward();
                    return [y.Detach(), q.Grad!, k.Grad!, v.Grad!];
                }
                var cpu = Run(Device.Cpu);
                var gpu = Run(dev);
                for (int i = 0; i < cpu.Length; i++)
                    TestData.Close(cpu[i].ToDoubleArray(), gpu[i].To(Device.Cpu).ToDoubleArray(), dtype, $"{label} {dtype.Name()} tensor {i}", scale: 50);
            }
    }

    [Fact]
    public void BFloat16AutocastAndTf32GemmsAreCloseToFloat32()
    {
        var dev = Gpu().Device;
        const int k = 512;
        var a = Tensor.RandN([64, k], 41UL);
        var b = Tensor.RandN([k, 48], 42UL);
        var exact = a.To(DType.Float64).MatMul(b.To(DType.Float64)).ToDoubleArray();
        var abs = a.To(DType.Float64).Abs().MatMul(b.To(DType.Float64).Abs()).ToDoubleArray();
        // bfloat16 conversion on the device matches the host's round to nearest even.
        Assert.Equal(a.To(DType.BFloat16).ToArray<BFloat16>(), a.To(dev).To(DType.BFloat16).ToArray<BFloat16>());
        foreach (var precision in new[] { Precision.BFloat16, Precision.TF32 })
        {
            Tensor y;
            using (Autocast.Enter(precision)) y = a.To(dev).MatMul(b.To(dev));
            var got = y.To(Device.Cpu).ToDoubleArray();
            // Operand rounding: 2⁻⁸ for bfloat16, 2⁻¹¹ for TF32 (10 stored mantissa bits), twice, plus float32 sums.
            double u = precision == Precision.BFloat16 ? 1.0 / 256 : 1.0 / 2048;
            double factor = 2 * u + u * u + k * Math.Pow(2, -24);
            for (int i = 0; i < got.Length; i++)
                Assert.True(Math.Abs(got[i] - exact[i]) <= factor * abs[i], $"{precision}: element {i}: {got[i]} vs {exact[i]}");
        }
    }

    [Fact]
    public void AnImpossibleAllocationIsAManagedOutOfMemoryError()
    {
        var gpu = Gpu();
        // 1 PiB: beyond any device.
        var e = Assert.Throws<CudaOutOfMemoryException>(() => gpu.Allocator.Allocate(1L << 50));
        Assert.Equal(1L << 50, e.RequestedBytes);
        Assert.Contains("CUDA out of memory", e.Message);
        gpu.Allocator.EmptyCache();
    }
}
