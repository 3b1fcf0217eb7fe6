using Engine.Cpu;

namespace Engine;

/// <summary>
/// The operations a device must provide. Every tensor op dispatches here through its storage's backend,
/// so adding a device means implementing this interface and nothing else. Inputs are storages with layouts
/// (any strides); outputs are new contiguous storages unless stated otherwise. Shapes are validated by the
/// tensor op before it calls the backend.
/// </summary>
public interface IBackend
{
    /// <summary>The device this backend runs on.</summary>
    Device Device { get; }

    /// <summary>A zero-filled buffer.</summary>
    Storage Zeros(DType dtype, int length);
    /// <summary>A buffer filled with a value.</summary>
    Storage Full(DType dtype, int length, double value);
    /// <summary>Copies host data into a new buffer.</summary>
    Storage FromHost<T>(ReadOnlySpan<T> data) where T : unmanaged;
    /// <summary>Copies the elements of a strided view, in row-major order, into a host span.</summary>
    void ToHost<T>(Storage src, Layout layout, Span<T> dst) where T : unmanaged;
    /// <summary>Copies a strided view into a new contiguous buffer.</summary>
    Storage Contiguous(Storage src, Layout layout);
    /// <summary>Copies a strided view into another strided view of the same shape (in place on <paramref name="dst"/>).</summary>
    void CopyInto(Storage src, Layout srcLayout, Storage dst, Layout dstLayout);
    /// <summary>Converts element type.</summary>
    Storage Cast(Storage src, Layout layout, DType to);

    /// <summary>Elementwise op of one input with an optional scalar parameter.</summary>
    Storage Unary(UnaryOp op, Storage x, Layout lx, double scalar = 0);
    /// <summary>Elementwise op of two inputs whose layouts are already broadcast to the output shape.</summary>
    Storage Binary(BinaryOp op, Storage a, Layout la, Storage b, Layout lb);
    /// <summary>
    /// GELU's backward, g ⊙ gelu′(x) (the tanh approximation), for x and g of one shape; compact result. The default
    /// takes two passes (<see cref="UnaryOp.GeluGrad"/>, then the product); a backend may fuse them.
    /// </summary>
    Storage GeluBackward(Storage x, Layout lx, Storage g, Layout lg) => GeluBackwardComposed(x, lx, g, lg);

    /// <summary>The two-pass <see cref="GeluBackward"/>: what a fused implementation must equal, and its fallback for other views.</summary>
    internal Storage GeluBackwardComposed(Storage x, Layout lx, Storage g, Layout lg)
    {
        var derivative = Unary(UnaryOp.GeluGrad, x, lx);
        return Binary(BinaryOp.Mul, g, lg, derivative, Layout.Contiguous(lx.ShapeSpan));
    }
    /// <summary>cond ≠ 0 ? a : b, all three layouts broadcast to the output shape.</summary>
    Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb);
    /// <summary>In place: dst += alpha · src, both contiguous with equal length (gradient accumulation, optimisers).</summary>
    void AddInPlace(Storage dst, Storage src, double alpha);
    /// <summary>In place: dst ← alpha · dst, contiguous (gradient clipping).</summary>
    void ScaleInPlace(Storage dst, double alpha);

    /// <summary>Reduces over <paramref name="axes"/> (sorted, distinct); the result has the input shape with those dims set to 1.</summary>
    Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes);
    /// <summary>Index (int32) of the max (or min) along one axis; the result keeps that axis with size 1.</summary>
    Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis);

    /// <summary>Row-wise softmax (or log-softmax) over the last axis, stable.</summary>
    Storage Softmax(Storage x, Layout lx, bool log);
    /// <summary>Gradient of row-wise softmax/log-softmax given its output <paramref name="y"/> and output gradient (both contiguous [rows, cols]).</summary>
    Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log);

    // ---- fused kernels: causal attention ----
    // Default implementations copy to the host, run CpuBackend's kernel and copy back (Cpu/HostFallback.cs),
    // so a backend without a native kernel still works. CpuBackend implements them natively (Cpu/Attention/).
    // All storages are contiguous from element 0: q [B, H, Tq, D], k and v [B, H, Tk, D], as described by dims
    // (except in the overload that takes views with their layouts).

    /// <summary>The output [B, H, Tq, D] of the causal attention family member <paramref name="family"/>.</summary>
    Storage CausalAttentionForward(Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family)
        => HostFallback.CausalAttentionForward(this, q, k, v, dims, family);

    /// <summary>
    /// <see cref="CausalAttentionForward(Storage, Storage, Storage, AttentionDims, AttentionFamily)"/> of inputs given
    /// as views: <paramref name="lq"/> [B, H, Tq, D], <paramref name="lk"/> and <paramref name="lv"/> [B, H, Tk, D],
    /// with any strides and offsets (a KV cache's time prefix, the heads split from a fused projection). Used where no
    /// backward will need compact copies (no gradient recorded). A backend that reads such views in place saves the
    /// copies; the default makes compact copies of the views that are not compact and calls the overload above.
    /// </summary>
    Storage CausalAttentionForward(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv, AttentionDims dims, AttentionFamily family)
        => CausalAttentionForward(CompactStorage(q, lq), CompactStorage(k, lk), CompactStorage(v, lv), dims, family);

    /// <summary>The storage itself when the view is all of it in row-major order, else a compact copy.</summary>
    private Storage CompactStorage(Storage s, Layout l) => l.IsContiguous && l.Offset == 0 && l.Count == s.Length ? s : Contiguous(s, l);

    /// <summary>Gradients of q, k and v given the output gradient <paramref name="gradOutput"/> [B, H, Tq, D].</summary>
    (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
        => HostFallback.CausalAttentionBackward(this, q, k, v, gradOutput, dims, family);

    /// <summary>
    /// <see cref="CausalAttentionBackward(Storage, Storage, Storage, Storage, AttentionDims, AttentionFamily)"/> of
    /// inputs given as views (as <see cref="CausalAttentionForward(Storage, Layout, Storage, Layout, Storage, Layout, AttentionDims, AttentionFamily)"/>
    /// takes them), so the recorded forward need not keep compact copies; <paramref name="gradOutput"/> is compact. The
    /// default makes compact copies of the views that are not compact and calls the overload above.
    /// </summary>
    (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv,
        Storage gradOutput, AttentionDims dims, AttentionFamily family)
        => CausalAttentionBackward(CompactStorage(q, lq), CompactStorage(k, lk), CompactStorage(v, lv), gradOutput, dims, family);

    /// <summary>The final attention weights [B, H, Tq, Tk] (zero above the causal diagonal), for diagnostics.</summary>
    Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family)
        => HostFallback.CausalAttentionWeights(this, q, k, dims, family);

    /// <summary>
    /// Batched matrix product. <paramref name="la"/> is [batch..., m, k] and <paramref name="lb"/> is [batch..., k, n],
    /// with the batch dims already broadcast (stride 0 where shared). Any strides; the result is contiguous [batch..., m, n].
    /// </summary>
    Storage MatMul(Storage a, Layout la, Storage b, Layout lb);

    /// <summary>
    /// Whether aᵀ·g for contiguous a [k, m] and g [k, n] of <paramref name="dtype"/> (a weight's gradient) runs faster
    /// on this backend as (gᵀ·a)ᵀ, the [n, m] product seen transposed: the same sums in the same order, so the same
    /// values. The default keeps the product as written.
    /// </summary>
    internal bool TransposedProductIsFaster(int m, int n, DType dtype) => false;
    /// <summary>
    /// a·b + bias for a 2-D a [m, k] and b [k, n] and a bias [n] added to every row (a linear layer); compact [m, n].
    /// The default is the product, then the broadcast add; a backend may add the bias inside the product.
    /// </summary>
    Storage MatMulBias(Storage a, Layout la, Storage b, Layout lb, Storage bias, Layout lbias) => MatMulBiasComposed(a, la, b, lb, bias, lbias);

    /// <summary>The product, then the broadcast add: <see cref="MatMulBias"/>'s reference and fallback.</summary>
    internal Storage MatMulBiasComposed(Storage a, Layout la, Storage b, Layout lb, Storage bias, Layout lbias)
    {
        int[] shape = [la.ShapeSpan[0], lb.ShapeSpan[1]];
        return Binary(BinaryOp.Add, MatMul(a, la, b, lb), Layout.Contiguous(shape), bias, lbias.BroadcastTo(shape));
    }

    /// <summary>Selects slices along <paramref name="axis"/> by int32 indices (a 1-D contiguous storage).</summary>
    Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount);
    /// <summary>Inverse of IndexSelect: a zero tensor of <paramref name="shape"/> with slices of <paramref name="src"/> added at the indices along the axis.</summary>
    Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc);
    /// <summary>out[..., i, ...] = x[..., index[..., i, ...], ...] along one axis; index has the output shape.</summary>
    Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex);
    /// <summary>A zero tensor of <paramref name="shape"/> with out[..., index[...], ...] += src[...] along one axis.</summary>
    Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc);

    // ---- fused kernels ----
    // Each has a default implementation that copies the inputs to the host, runs the CPU kernel and copies the
    // results back, so a backend without a native kernel still works (slowly). CpuBackend implements all of them
    // natively (Cpu/CpuBackend.Fused.cs); the ops live in Ops/Fused/; the host fallback is Cpu/HostFallback.cs.

    /// <summary>
    /// Row-wise layer norm (or RMS norm when <paramref name="rms"/>) of a contiguous [rows, cols] input:
    /// y = (x − mean)·rstd·weight + bias, with rstd = 1/√(var + eps) (RMS norm: y = x·rstd·weight, rstd = 1/√(mean(x²) + eps)).
    /// Weight and bias are contiguous [cols] or null. Returns y, and the per-row mean (zeros for RMS norm) and rstd for the backward.
    /// </summary>
    (Storage Y, Storage Mean, Storage Rstd) NormForward(Storage x, Storage? weight, Storage? bias, int rows, int cols, double eps, bool rms)
        => HostFallback.NormForward(this, x, weight, bias, rows, cols, eps, rms);

    /// <summary>
    /// Backward of <see cref="NormForward"/>: the gradients of x [rows, cols], of the weight and of the bias (null when
    /// the op had none), given the saved mean and rstd and the output gradient <paramref name="dy"/> (all contiguous).
    /// </summary>
    (Storage Dx, Storage? DWeight, Storage? DBias) NormBackward(Storage x, Storage? weight, bool hasBias, Storage mean, Storage rstd, Storage dy, int rows, int cols, bool rms)
        => HostFallback.NormBackward(this, x, weight, hasBias, mean, rstd, dy, rows, cols, rms);

    /// <summary>
    /// Cross-entropy of contiguous logits [rows, cols] against int32 targets [rows]: returns the mean over rows whose
    /// target is not <paramref name="ignoreIndex"/> (a one-element storage), each row's log-sum-exp for the backward,
    /// and the number of counted rows. Throws when a counted target lies outside [0, cols).
    /// </summary>
    (Storage Loss, Storage LogSumExp, int Count) CrossEntropyForward(Storage logits, Storage targets, int rows, int cols, int ignoreIndex)
        => HostFallback.CrossEntropyForward(this, logits, targets, rows, cols, ignoreIndex);

    /// <summary>Gradient of the logits: (softmax − onehot(target))·<paramref name="scale"/> on counted rows, zero on ignored rows.</summary>
    Storage CrossEntropyBackward(Storage logits, Storage targets, Storage logSumExp, int rows, int cols, int ignoreIndex, double scale)
        => HostFallback.CrossEntropyBackward(this, logits, targets, logSumExp, rows, cols, ignoreIndex, scale);

    /// <summary>
    /// Rotary position embedding of a contiguous [groups, time, dim] input: each pair (x_i, x_{i+dim/2}) at position
    /// p is rotated by the angle p·θ_i, with the rotation's cos and sin given as contiguous [time, dim/2] tables.
    /// <paramref name="inverse"/> rotates by −θ (the backward).
    /// </summary>
    Storage Rope(Storage x, Storage cos, Storage sin, int groups, int time, int dim, bool inverse)
        => HostFallback.Rope(this, x, cos, sin, groups, time, dim, inverse);

    /// <summary>
    /// One AdamW update, in place on contiguous, equal-length <paramref name="param"/>, first moment <paramref name="m"/>
    /// and second moment <paramref name="v"/>: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², then
    /// p ← p − lr·(wd·p + m̂/(√v̂ + eps)) with bias-corrected m̂, v̂ for step <paramref name="step"/> (1-based).
    /// </summary>
    void AdamWStep(Storage param, Storage grad, Storage m, Storage v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
        => HostFallback.AdamWStep(this, param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);

    /// <summary>
    /// One SGD update with momentum and weight decay, in place: g' = g + wd·p, buf ← μ·buf + g' (buf = g' on the first
    /// step), p ← p − lr·(nesterov ? g' + μ·buf : buf). <paramref name="momentumBuffer"/> is null when μ = 0.
    /// </summary>
    void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, double lr, double momentum, double weightDecay, bool nesterov, bool firstStep)
        => HostFallback.SgdStep(this, param, grad, momentumBuffer, lr, momentum, weightDecay, nesterov, firstStep);
}
