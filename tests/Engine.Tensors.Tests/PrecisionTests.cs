namespace Engine.Tests;

/// <summary>
/// bfloat16 on the CPU (an exact emulation: operands rounded to bfloat16, products summed in float32) and the
/// <see cref="Autocast"/> scope. The bound is the one of Engine.Cuda.Tests' EmulatedPrecisionTests: each element of
/// an autocast product is within (2u + u² + K·2⁻²⁴)·Σ|a||b| of the exact one, u = 2⁻⁸.
/// </summary>
public class PrecisionTests
{
    private const double U = 1.0 / 256;

    [Theory]
    [InlineData(0x3F808000u, (ushort)0x3F80)] // tie, even below
    [InlineData(0x3F818000u, (ushort)0x3F82)] // tie, even above
    [InlineData(0x7F7FFFFFu, (ushort)0x7F80)] // overflow to infinity
    [InlineData(0x00018000u, (ushort)0x0002)] // subnormal tie
    [InlineData(0xFF800000u, (ushort)0xFF80)] // -infinity
    [InlineData(0xFFC00001u, (ushort)0xFFC0)] // NaN keeps its sign, quiet
    public void HostConversionRoundsToNearestEven(uint bits, ushort expected)
    {
        var cpu = Tensor.FromArray(new[] { BitConverter.UInt32BitsToSingle(bits) }).To(DType.BFloat16);
        Assert.Equal(expected, cpu.ToArray<BFloat16>()[0].Bits);
        Assert.Equal(expected, BFloat16.FromSingle(BitConverter.UInt32BitsToSingle(bits)).Bits);
        Assert.Equal((uint)expected << 16, BitConverter.SingleToUInt32Bits(cpu.To(DType.Float32).ToArray<float>()[0]));
    }

    [Fact]
    public void AutocastMatMulOnTheCpuIsWithinTheBFloat16Bound()
    {
        const int k = 256;
        var a = Tensor.RandN([5, k], 1UL);
        var b = Tensor.RandN([k, 7], 2UL);
        var exact = a.To(DType.Float64).MatMul(b.To(DType.Float64)).ToDoubleArray();
        var abs = a.To(DType.Float64).Abs().MatMul(b.To(DType.Float64).Abs()).ToDoubleArray();
        Tensor y;
        using (Autocast.BFloat16()) y = a.MatMul(b);
        Assert.Equal(DType.Float32, y.DType);
        var got = y.ToDoubleArray();
        double factor = 2 * U + U * U + k * Math.Pow(2, -24);
        for (int i = 0; i < got.Length; i++)
            Assert.True(Math.Abs(got[i] - exact[i]) <= factor * abs[i], $"element {i}: {got[i]} vs {exact[i]}");
        // Exactly the float32 product of the rounded operands.
        var rounded = a.To(DType.BFloat16).To(DType.Float32).MatMul(b.To(DType.BFloat16).To(DType.Float32));
        Assert.Equal(rounded.ToArray<float>(), y.ToArray<float>());
        Assert.NotEqual(a.MatMul(b).ToArray<float>(), y.ToArray<float>());
    }

    [Fact]
    public void GradientsOfAutocastProductsAreFloat32AndClose()
    {
        (Tensor, Tensor) Run(Precision p)
        {
            var x = Tensor.RandN([4, 32], 3UL).RequireGrad();
            var w = Tensor.RandN([32, 6], 4UL).RequireGrad();
            using (Autocast.Enter(p)) x.MatMul(w).Square().Sum().Backward();
            return (x.Grad!, w.Grad!);
        }
        var (gx, gw) = Run(Precision.Float32);
        var (hx, hw) = Run(Precision.BFloat16);
        Assert.Equal(DType.Float32, hx.DType);
        Assert.Equal(DType.Float32, hw.DType);
        foreach (var (e, g) in new[] { (gx, hx), (gw, hw) })
        {
            var ev = e.ToDoubleArray();
            var gv = g.ToDoubleArray();
            double err = Math.Sqrt(ev.Zip(gv, (p, q) => (p - q) * (p - q)).Sum() / ev.Sum(v => v * v));
            Assert.InRange(err, 1e-9, 2e-2);
        }
    }

    [Fact]
    public void ScopesNestAndRestoreAndFloat64IsNeverCast()
    {
        Assert.Equal(Precision.Float32, Autocast.Current);
        using (Autocast.BFloat16())
        {
            Assert.Equal(Precision.BFloat16, Autocast.Current);
            using (Autocast.Enter(Precision.Float32))
            {
                Assert.Equal(Precision.Float32, Autocast.Current);
                Assert.Equal(DType.Float32, Tensor.Ones([2, 2]).MatMul(Tensor.Ones([2, 2])).DType);
            }
            Assert.Equal(Precision.BFloat16, Autocast.Current);
            var d = Tensor.RandN([3, 3], 5UL, DType.Float64);
            Assert.Equal(d.MatMul(d).ToDoubleArray(), Tensor.RandN([3, 3], 5UL, DType.Float64).MatMul(d).ToDoubleArray());
            Assert.Equal(DType.Float64, d.MatMul(d).DType);
        }
        Assert.Equal(Precision.Float32, Autocast.Current);
    }

    [Fact]
    public void OpsOtherThanCastsCopiesAndMatMulRefuseBFloat16()
    {
        var t = Tensor.Ones([2, 3]).To(DType.BFloat16);
        Assert.Equal([2, 3], t.Transpose(0, 1).Contiguous().Shape.Reverse().ToArray());
        var e = Assert.Throws<NotSupportedException>(() => t.Sum());
        Assert.StartsWith("sum: bfloat16 tensors", e.Message);
        Assert.Throws<NotSupportedException>(() => t.Add(t));
        Assert.Throws<NotSupportedException>(() => t.To(DType.Int32));
        Assert.Contains("dtype=bfloat16", t.ToString());
    }

    [Fact]
    public void PrecisionNamesParse()
    {
        Assert.True(Precisions.TryParse("BF16", out var p) && p == Precision.BFloat16);
        Assert.True(Precisions.TryParse("tf32", out p) && p == Precision.TF32);
        Assert.True(Precisions.TryParse("fp32", out p) && p == Precision.Float32);
        Assert.False(Precisions.TryParse("fp16", out _));
        Assert.Equal("bf16", Precision.BFloat16.Name());
    }
}
