using Engine.Cuda.Runtime;
using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>
/// Mixed precision on the emulated device: bfloat16 conversion kernels (round to nearest even, NaN, infinities,
/// subnormals), bfloat16-autocast GEMMs, gradients and training against float32, and the TF32 mode reaching the GEMM.
/// <para>
/// The tolerances follow from bfloat16's 8 significant bits: rounding a value to bfloat16 changes it by a relative
/// error of at most u = 2⁻⁸. A product of two rounded operands is off by at most (1+u)² − 1 = 2u + u²; the float32
/// accumulation of K such products adds at most about K·2⁻²⁴ relative to Σ|a·b|. So each element of an autocast
/// product obeys |y − y₃₂| ≤ (2u + u² + K·2⁻²⁴)·Σₗ|aₗ||bₗ| (≈ 7.9e-3 · Σ|a·b| for K = 512), checked element by element;
/// for random operands the errors are independent and mostly cancel, so the relative Frobenius error stays near u
/// and under 1e-2.
/// </para>
/// </summary>
public class EmulatedPrecisionTests
{
    private const double U = 1.0 / 256; // bfloat16 unit roundoff 2^-8

    /// <summary>A backend of its own (the tests of one class run one at a time), so its GEMM log is this class's alone.</summary>
    private static readonly Lazy<CudaBackend> Own = new(() => HostEmulator.NewBackend());

    private static Device Dev
    {
        get
        {
            _ = HostEmulator.KernelNames; // skips without a compiler
            return Own.Value.Device;
        }
    }

    private static List<GemmKind> Kinds => ((EmulatedDevice)Own.Value.Api).GemmKinds;

    public static TheoryData<float, ushort> Conversions() => new()
    {
        { 1.0f, 0x3F80 },
        { -2.5f, 0xC020 },
        { 0.0f, 0x0000 },
        { -0.0f, 0x8000 },
        // 1 + 2^-8 lies halfway between 1 and 1 + 2^-7: ties to the even mantissa (1.0).
        { BitConverter.UInt32BitsToSingle(0x3F808000), 0x3F80 },
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6: ties to even rounds up.
        { BitConverter.UInt32BitsToSingle(0x3F818000), 0x3F82 },
        // Just above and just below a half: nearest.
        { BitConverter.UInt32BitsToSingle(0x3F808001), 0x3F81 },
        { BitConverter.UInt32BitsToSingle(0x3F807FFF), 0x3F80 },
        { float.PositiveInfinity, 0x7F80 },
        { float.NegativeInfinity, 0xFF80 },
        // The largest float32 rounds past the largest bfloat16 (0x7F7F): overflow to infinity.
        { float.MaxValue, 0x7F80 },
        { BitConverter.UInt32BitsToSingle(0x7F7F7FFF), 0x7F7F },
        // Subnormals round like normal numbers, no flush to zero.
        { BitConverter.UInt32BitsToSingle(0x00010000), 0x0001 },
        { BitConverter.UInt32BitsToSingle(0x00018000), 0x0002 },
        { BitConverter.UInt32BitsToSingle(0x00008000), 0x0000 },
        { BitConverter.UInt32BitsToSingle(0x00008001), 0x0001 },
        { BitConverter.UInt32BitsToSingle(0x807F8000), 0x8080 }, // the largest subnormal rounds up to the smallest normal
        // NaNs become the quiet NaN of their sign, even a signalling one whose payload sits in the low bits only.
        { float.NaN, 0xFFC0 },
        { BitConverter.UInt32BitsToSingle(0x7F800001), 0x7FC0 },
        { BitConverter.UInt32BitsToSingle(0x7FC00000), 0x7FC0 },
    };

    [Theory]
    [MemberData(nameof(Conversions))]
    public void Float32ToBFloat16RoundsToNearestEven(float value, ushort bits)
    {
        var bf = Tensor.FromArray(new[] { value }).To(Dev).To(DType.BFloat16);
        Assert.Equal(DType.BFloat16, bf.DType);
        Assert.Equal($"{bits:X4}", $"{bf.ToArray<BFloat16>()[0].Bits:X4}");
        Assert.Equal($"{bits:X4}", $"{BFloat16.FromSingle(value).Bits:X4}"); // the host conversion agrees
        // Back to float32 exactly: the bits in the high half.
        var back = bf.To(DType.Float32).ToArray<float>()[0];
        Assert.Equal(((uint)bits << 16).ToString("X8"), BitConverter.SingleToUInt32Bits(back).ToString("X8"));
        Assert.Equal(back, (float)bf.To(DType.Float64).ToArray<double>()[0]);
    }

    [Fact]
    public void RandomConversionsMatchTheHostAndTheCpuAndRoundTrip()
    {
        var rng = new Random(3);
        var values = new float[4096];
        for (int i = 0; i < values.Length; i++) values[i] = BitConverter.UInt32BitsToSingle((uint)rng.NextInt64(0, 1L << 32));
        // A strided source (every other element) exercises the layout walk of the cast kernel.
        var x = Tensor.FromArray(values, [64, 64]).To(Dev).Transpose(0, 1);
        var gpu = x.To(DType.BFloat16).ToArray<BFloat16>();
        var cpu = x.To(Device.Cpu).To(DType.BFloat16).ToArray<BFloat16>();
        var expected = x.To(Device.Cpu).ToArray<float>().Select(BFloat16.FromSingle).ToArray();
        Assert.Equal(expected, gpu);
        Assert.Equal(expected, cpu);
        // bfloat16 -> float32 -> bfloat16 is the identity (NaNs stay NaN).
        var again = Tensor.FromArray(gpu, [4096]).To(Dev).To(DType.Float32).To(DType.BFloat16).ToArray<BFloat16>();
        for (int i = 0; i < gpu.Length; i++)
            Assert.True(gpu[i] == again[i] || (float.IsNaN(gpu[i]) && float.IsNaN(again[i])), $"element {i}: {gpu[i].Bits:X4} became {again[i].Bits:X4}");
        // Each finite, non-overflowing rounding is within u relative.
        var widened = Tensor.FromArray(gpu, [4096]).To(Dev).To(DType.Float32).ToArray<float>();
        var source = x.To(Device.Cpu).ToArray<float>();
        for (int i = 0; i < widened.Length; i++)
            if (float.IsNormal(source[i]) && float.IsFinite(widened[i]))
                Assert.True(Math.Abs(widened[i] - (double)source[i]) <= U * Math.Abs(source[i]), $"element {i}: {source[i]:R} -> {widened[i]:R}");
    }

    [Fact]
    public void BFloat16StoragesFillCopyAndMoveBetweenDevices()
    {
        var full = Tensor.Full([3, 5], 1.0 / 3, DType.BFloat16, Dev);
        Assert.All(full.ToArray<BFloat16>(), v => Assert.Equal(BFloat16.FromSingle(1f / 3).Bits, v.Bits));
        var values = Enumerable.Range(0, 15).Select(i => BFloat16.FromSingle(i * 0.75f - 3)).ToArray();
        var t = Tensor.FromArray<BFloat16>(values, [3, 5]).To(Dev);
        var transposed = t.Transpose(0, 1).Contiguous().To(Device.Cpu).ToArray<BFloat16>();
        var cpuTransposed = Tensor.FromArray<BFloat16>(values, [3, 5]).Transpose(0, 1).Contiguous().ToArray<BFloat16>();
        Assert.Equal(cpuTransposed, transposed);
        Assert.Equal(new[] { 5, 3 }, t.Transpose(0, 1).Contiguous().Shape);
        var e = Assert.Throws<NotSupportedException>(() => t.Exp());
        Assert.Contains("bfloat16", e.Message);
    }

    /// <summary>The elementwise bound of the class summary: (2u + u² + K·2⁻²⁴)·(|A|·|B|).</summary>
    private static void WithinBFloat16Bound(double[] reference, double[] actual, double[] absProducts, int k, string what)
    {
        double factor = 2 * U + U * U + k * Math.Pow(2, -24);
        double err2 = 0, ref2 = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double bound = factor * absProducts[i] + 1e-30;
            Assert.True(Math.Abs(actual[i] - reference[i]) <= bound, $"{what}: element {i}: {actual[i]:R} vs {reference[i]:R}, bound {bound:G3}");
            err2 += (actual[i] - reference[i]) * (actual[i] - reference[i]);
            ref2 += reference[i] * reference[i];
        }
        double relative = Math.Sqrt(err2 / ref2);
        Assert.True(relative <= 1e-2, $"{what}: relative Frobenius error {relative:G3} > 1e-2");
        Assert.True(relative > 0, $"{what}: no rounding at all; were the operands cast?");
    }

    [Theory]
    [InlineData(3, 16, 5)]
    [InlineData(8, 128, 6)]
    [InlineData(4, 512, 7)]
    public void AutocastMatMulIsWithinTheBFloat16BoundOfFloat32(int m, int k, int n)
    {
        var a = Tensor.RandN([2, m, k], 11UL);
        var b = Tensor.RandN([k, n], 12UL);
        var reference = a.To(DType.Float64).MatMul(b.To(DType.Float64));
        var absProducts = a.To(DType.Float64).Abs().MatMul(b.To(DType.Float64).Abs()).ToDoubleArray();
        Kinds.Clear();
        Tensor y;
        using (Autocast.BFloat16()) y = a.To(Dev).MatMul(b.To(Dev).Transpose(0, 1).Contiguous().Transpose(0, 1));
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new[] { 2, m, n }, y.Shape);
        Assert.Equal([GemmKind.BFloat16], Kinds);
        WithinBFloat16Bound(reference.ToDoubleArray(), y.To(Device.Cpu).ToDoubleArray(), absProducts, k, $"K = {k}");
        // The CPU's bfloat16 emulation rounds the same operands and sums exact products in float32.
        Tensor cpu;
        using (Autocast.BFloat16()) cpu = a.MatMul(b);
        TestData.Close(cpu.ToDoubleArray(), y.To(Device.Cpu).ToDoubleArray(), DType.Float32, "cpu emulation", scale: 10);
        // Outside the scope the same product is float32 again.
        Kinds.Clear();
        _ = a.To(Dev).MatMul(b.To(Dev));
        Assert.Equal([GemmKind.Float32], Kinds);
    }

    [Fact]
    public void GradientsFlowThroughTheCastsToFloat32WithinTolerance()
    {
        // loss = Σ c ⊙ tanh(x·W1)·W2 with float32 leaves; under autocast both products (and their backward) run in bfloat16.
        Tensor[] Run(bool autocast)
        {
            var x = Tensor.RandN([6, 64], 21UL).To(Dev).RequireGrad();
            var w1 = Tensor.RandN([64, 48], 22UL).MulScalar(0.125).To(Dev).RequireGrad();
            var w2 = Tensor.RandN([48, 10], 23UL).MulScalar(0.15).To(Dev).RequireGrad();
            var c = Tensor.RandN([6, 10], 24UL).To(Dev);
            using (Autocast.Enter(autocast ? Precision.BFloat16 : Precision.Float32))
                x.MatMul(w1).Tanh().MatMul(w2).Mul(c).Sum().Backward();
            return [x.Grad!, w1.Grad!, w2.Grad!];
        }
        var f32 = Run(false);
        Kinds.Clear();
        var bf16 = Run(true);
        // Two forward GEMMs and, for the backward, dW2 and dH of the second and dX and dW1 of the first.
        Assert.Equal(6, Kinds.Count);
        Assert.All(Kinds, kind => Assert.Equal(GemmKind.BFloat16, kind));
        string[] names = ["x", "W1", "W2"];
        for (int i = 0; i < f32.Length; i++)
        {
            Assert.Equal(DType.Float32, bf16[i].DType);
            var e = f32[i].To(Device.Cpu).ToDoubleArray();
            var g = bf16[i].To(Device.Cpu).ToDoubleArray();
            double err = Math.Sqrt(e.Zip(g, (p, q) => (p - q) * (p - q)).Sum() / e.Sum(v => v * v));
            // Each gradient passes through about four roundings of size u (operands of the forward and of its own
            // backward product), so the relative error stays below a few u ≈ 1.6e-2; random errors cancel well below that.
            Assert.True(err <= 2e-2, $"grad {names[i]}: relative error {err:G3}");
            Assert.True(err > 0, $"grad {names[i]}: identical to float32; was autocast applied?");
        }
    }

    [Fact]
    public void Tf32ModeReachesTheGemmCall()
    {
        var a = Tensor.RandN([4, 8], 31UL).To(Dev);
        var b = Tensor.RandN([8, 3], 32UL).To(Dev);
        Kinds.Clear();
        var plain = a.MatMul(b);
        Tensor scoped;
        using (Autocast.Tf32()) scoped = a.MatMul(b);
        Own.Value.AllowTf32 = true;
        try { _ = a.MatMul(b); }
        finally { Own.Value.AllowTf32 = false; }
        _ = a.MatMul(b);
        _ = a.To(DType.Float64).MatMul(b.To(DType.Float64)); // float64 is never TF32
        using (Autocast.Tf32()) _ = a.To(DType.Float64).MatMul(b.To(DType.Float64));
        Assert.Equal([GemmKind.Float32, GemmKind.Tf32, GemmKind.Tf32, GemmKind.Float32, GemmKind.Float64, GemmKind.Float64], Kinds);
        // The emulation computes TF32 like float32 (it records the mode, it does not round to 10 bits).
        Assert.Equal(plain.To(Device.Cpu).ToArray<float>(), scoped.To(Device.Cpu).ToArray<float>());
    }

    [Fact]
    public void GptTrainingInBFloat16FollowsTheFloat32LossCurve()
    {
        var config = new Engine.Nn.GptConfig { VocabSize = 13, ContextLength = 8, Layers = 1, Heads = 2, ModelDim = 16 };
        double[] Run(Precision precision)
        {
            var model = new Engine.Nn.Gpt(config, seed: 5);
            model.To(Dev);
            var opt = new Engine.Nn.AdamW(model, learningRate: 1e-2);
            var seq = Enumerable.Range(0, 4 * 9).Select(i => (i * 5 + i / 9) % 13).ToArray();
            var all = Tensor.FromArray<int>(seq, [4, 9], Dev);
            var x = all.Narrow(1, 0, 8).Contiguous();
            var y = all.Narrow(1, 1, 8).Contiguous();
            var losses = new double[6];
            for (int s = 0; s < losses.Length; s++)
            {
                opt.ZeroGrad();
                using (Autocast.Enter(precision))
                {
                    var loss = model.Loss(x, y);
                    losses[s] = loss.Item();
                    loss.Backward();
                }
                opt.Step();
                Assert.All(model.Parameters(), p => Assert.Equal(DType.Float32, p.DType)); // master weights stay float32
            }
            return losses;
        }
        var f32 = Run(Precision.Float32);
        Kinds.Clear();
        var bf16 = Run(Precision.BFloat16);
        Assert.Contains(GemmKind.BFloat16, Kinds);
        Assert.DoesNotContain(GemmKind.Float32, Kinds); // every matmul of the model was autocast (attention is its own fused op)
        // The first loss differs only by the forward's roundings (logits off by ~u relative: a few 1e-3 nats); later
        // ones also by the drift of the updates, which AdamW's normalised steps keep small over six steps.
        Assert.True(Math.Abs(f32[0] - bf16[0]) <= 1e-2, $"first loss {bf16[0]:R} vs {f32[0]:R}");
        for (int s = 0; s < f32.Length; s++)
            Assert.True(Math.Abs(f32[s] - bf16[s]) <= 5e-2, $"step {s}: bf16 loss {bf16[s]:R} vs float32 {f32[s]:R}\nfloat32: {string.Join(", ", f32)}\nbf16: {string.Join(", ", bf16)}");
        Assert.True(bf16[^1] < bf16[0] - 0.1, $"bf16 loss should fall: {string.Join(", ", bf16)}");
    }
}
