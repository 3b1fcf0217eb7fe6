using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Tests;

/// <summary>
/// The attention kernel reads q, k and v where they lie (a KV cache's time prefix of a longer buffer, the heads split
/// from a fused projection), in the forward and, for a recorded forward, in the backward: it must give the compact
/// path's output and gradients bit for bit.
/// </summary>
public class AttentionViewTests
{
    // (B, H, Tq, offset, D, capacity): one query over many keys (generation), odd sizes, a ragged last block,
    // head sizes around the 8- and 16-lane widths, and a cache with room past the keys in use.
    private static readonly (int B, int H, int Tq, int Offset, int D, int Capacity)[] Shapes =
    [
        (1, 4, 1, 299, 32, 512), (2, 3, 1, 40, 7, 64), (1, 2, 5, 17, 5, 23), (2, 1, 9, 0, 16, 9), (1, 3, 6, 33, 40, 100), (1, 1, 1, 0, 3, 16),
    ];

    /// <summary>
    /// q as a head of a fused [B, Tq, 3, H, D] projection (row stride 3·H·D), k and v as the first Tk positions of
    /// [B, H, capacity, D] buffers, plus compact copies of the three.
    /// </summary>
    private static (Tensor Q, Tensor K, Tensor V, Tensor Qc, Tensor Kc, Tensor Vc) Views(int b, int h, int tq, int offset, int d, int capacity, DType dtype, ulong seed)
    {
        var rng = new Rng(seed);
        int tk = offset + tq;
        var fused = Tensor.RandN([b, tq, 3, h, d], rng, dtype);
        var q = fused.Permute(2, 0, 3, 1, 4).Select(0, 1);
        var kBuffer = Tensor.RandN([b, h, capacity, d], rng, dtype);
        var vBuffer = Tensor.RandN([b, h, capacity, d], rng, dtype);
        var k = kBuffer.Narrow(2, 0, tk);
        var v = vBuffer.Narrow(2, 0, tk);
        Assert.False(q.IsDense);
        return (q, k, v, q.Contiguous(), k.Contiguous(), v.Contiguous());
    }

    private static void AssertBitEqual(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToDoubleArray();
        var a = actual.ToDoubleArray();
        for (int i = 0; i < e.Length; i++)
            Assert.True(BitConverter.DoubleToInt64Bits(e[i]) == BitConverter.DoubleToInt64Bits(a[i]), $"{what}: element {i}: compact {e[i]:G17}, view {a[i]:G17}");
    }

    /// <summary>The compact path: what a recorded forward runs (kept inputs are compact).</summary>
    private static Tensor Compact(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int offset)
    {
        var dims = new AttentionDims(q.Dim(0), q.Dim(1), q.Dim(2), k.Dim(2), q.Dim(3), offset);
        return new Tensor(CpuBackend.Instance.CausalAttentionForward(q.Storage, k.Storage, v.Storage, dims, spec.Family(dims.HeadDim)), q.Shape);
    }

    [Theory]
    [MemberData(nameof(AttentionTests.Variants), MemberType = typeof(AttentionTests))]
    public void ViewsGiveTheCompactOutputBitForBit(string variant)
    {
        var spec = AttentionSpec.Parse(variant);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (var (b, h, tq, off, d, cap) in Shapes)
            {
                var (q, k, v, qc, kc, vc) = Views(b, h, tq, off, d, cap, dtype, (ulong)(tq * 131 + off * 7 + d));
                string at = $"{variant} {dtype.Name()} B{b} H{h} Tq{tq} off{off} D{d} cap{cap}";
                var expected = Compact(qc, kc, vc, spec, off);
                using (new NoGrad()) AssertBitEqual(expected, Tensor.CausalAttention(q, k, v, spec, off), at);
                // With grad mode on but no input requiring a gradient, nothing is recorded either.
                AssertBitEqual(expected, Tensor.CausalAttention(q, k, v, spec, off), at + " (no input requires grad)");
            }
    }

    [Fact]
    public void ARecordedForwardWithViewsStillMatchesAndHasGradients()
    {
        var (q, k, v, qc, kc, vc) = Views(1, 2, 4, 9, 8, 32, DType.Float64, 3);
        var leaf = k.Detach().RequireGrad();   // a view that requires a gradient: the op records and keeps the views
        var y = Tensor.CausalAttention(q, leaf, v, AttentionSpec.Lssar, 9);
        AssertBitEqual(Compact(qc, kc, vc, AttentionSpec.Lssar, 9), y, "recorded");
        y.Sum().Backward();
        Assert.NotNull(leaf.Grad);
        Assert.Equal(leaf.Shape, leaf.Grad!.Shape);
    }

    [Theory]
    [MemberData(nameof(AttentionTests.Variants), MemberType = typeof(AttentionTests))]
    public void RecordedViewsGiveTheCompactGradientsBitForBit(string variant)
    {
        // The recorded forward keeps the views and the backward reads them in place: the gradients of q, k and v
        // (and of the fused buffer q came from) must equal those of compact leaves, including a transposed k whose
        // rows the backend gathers.
        var spec = AttentionSpec.Parse(variant);
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
            foreach (var (b, h, tq, off, d, cap) in Shapes)
            {
                string at = $"{variant} {dtype.Name()} B{b} H{h} Tq{tq} off{off} D{d} cap{cap}";
                var rng = new Rng((ulong)(tq * 17 + off + d));
                int tk = off + tq;
                var fused = Tensor.RandN([b, tq, 3, h, d], rng, dtype).RequireGrad();
                var kt = Tensor.RandN([b, h, d, cap], rng, dtype).RequireGrad();
                var vBuffer = Tensor.RandN([b, h, cap, d], rng, dtype).RequireGrad();
                var g = Tensor.RandN([b, h, tq, d], rng, dtype);
                var q = fused.Permute(2, 0, 3, 1, 4).Select(0, 2);
                var k = kt.Transpose(2, 3).Narrow(2, 0, tk);
                var v = vBuffer.Narrow(2, 0, tk);
                Tensor.CausalAttention(q, k, v, spec, off).Backward(g);

                var qc = q.Detach().Contiguous().RequireGrad();
                var kc = k.Detach().Contiguous().RequireGrad();
                var vc = v.Detach().Contiguous().RequireGrad();
                Tensor.CausalAttention(qc, kc, vc, spec, off).Backward(g);
                AssertBitEqual(qc.Grad!, fused.Grad!.Permute(2, 0, 3, 1, 4).Select(0, 2), at + " dq");
                AssertBitEqual(kc.Grad!, kt.Grad!.Transpose(2, 3).Narrow(2, 0, tk), at + " dk");
                AssertBitEqual(vc.Grad!, vBuffer.Grad!.Narrow(2, 0, tk), at + " dv");
            }
    }

    [Fact]
    public void ViewsWhoseRowsAreNotAdjacentAreGathered()
    {
        // k and v stored time-major inside each head ([B, H, D, T] transposed): elements of a row are T apart.
        var rng = new Rng(5);
        var q = Tensor.RandN([1, 2, 3, 6], rng, DType.Float32);
        var k = Tensor.RandN([1, 2, 6, 10], rng, DType.Float32).Transpose(2, 3);
        var v = Tensor.RandN([1, 2, 6, 10], rng, DType.Float32).Transpose(2, 3);
        var expected = Compact(q, k.Contiguous(), v.Contiguous(), AttentionSpec.Softmax, 7);
        using (new NoGrad()) AssertBitEqual(expected, Tensor.CausalAttention(q, k, v, AttentionSpec.Softmax, 7), "transposed k, v");
    }

    [Fact]
    public void ADeviceWithoutInPlaceViewsGetsCompactCopies()
    {
        // The mirror backend has no attention kernel of its own: the interface's default compacts the views first.
        var rng = new Rng(9);
        var fused = Tensor.RandN([1, 1, 3, 4, 8], rng, DType.Float32);
        var kBuffer = Tensor.RandN([1, 4, 64, 8], rng, DType.Float32);
        var vBuffer = Tensor.RandN([1, 4, 64, 8], rng, DType.Float32);
        Tensor Q(Tensor f) => f.Permute(2, 0, 3, 1, 4).Select(0, 0);
        var expected = Compact(Q(fused).Contiguous(), kBuffer.Narrow(2, 0, 21).Contiguous(), vBuffer.Narrow(2, 0, 21).Contiguous(), AttentionSpec.Softmax, 20);
        var device = MirrorBackend.Get();
        using var _ = new NoGrad();
        var y = Tensor.CausalAttention(Q(fused.To(device)), kBuffer.To(device).Narrow(2, 0, 21), vBuffer.To(device).Narrow(2, 0, 21), AttentionSpec.Softmax, 20);
        Assert.Equal(device, y.Device);
        AssertBitEqual(expected, y.To(Device.Cpu), "mirror device");
    }

    [Fact]
    public void TheBackendChecksTheViews()
    {
        var (q, k, v, _, _, _) = Views(1, 2, 1, 5, 4, 8, DType.Float32, 1);
        var dims = new AttentionDims(1, 2, 1, 6, 4, 5);
        var family = AttentionSpec.Softmax.Family(4);
        var cpu = CpuBackend.Instance;
        var wrongShape = new Layout([1, 2, 5, 4], k.Layout.StrideSpan, 0);
        var e1 = Assert.Throws<ArgumentException>(() => cpu.CausalAttentionForward(q.Storage, q.Layout, k.Storage, wrongShape, v.Storage, v.Layout, dims, family));
        Assert.Contains("k has shape [1, 2, 5, 4], expected [1, 2, 6, 4]", e1.Message);
        var pastTheEnd = new Layout([1, 2, 6, 4], k.Layout.StrideSpan, 40);   // the second head's rows run past the buffer
        var e2 = Assert.Throws<ArgumentException>(() => cpu.CausalAttentionForward(q.Storage, q.Layout, k.Storage, k.Layout, v.Storage, pastTheEnd, dims, family));
        Assert.Contains("the view of v", e2.Message);
        Assert.Contains("outside its storage of 64", e2.Message);
    }
}
