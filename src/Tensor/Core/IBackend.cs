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
    /// <summary>cond ≠ 0 ? a : b, all three layouts broadcast to the output shape.</summary>
    Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb);
    /// <summary>In place: dst += alpha · src, both contiguous with equal length (gradient accumulation, optimisers).</summary>
    void AddInPlace(Storage dst, Storage src, double alpha);

    /// <summary>Reduces over <paramref name="axes"/> (sorted, distinct); the result has the input shape with those dims set to 1.</summary>
    Storage Reduce(ReduceOp op, Storage x, Layout lx, ReadOnlySpan<int> axes);
    /// <summary>Index (int32) of the max (or min) along one axis; the result keeps that axis with size 1.</summary>
    Storage ArgReduce(ReduceOp op, Storage x, Layout lx, int axis);

    /// <summary>Row-wise softmax (or log-softmax) over the last axis, stable.</summary>
    Storage Softmax(Storage x, Layout lx, bool log);
    /// <summary>Gradient of row-wise softmax/log-softmax given its output <paramref name="y"/> and output gradient (both contiguous [rows, cols]).</summary>
    Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log);

    // ---- fused kernels: causal attention ----
    // Default implementations copy to the host, run CpuBackend's kernel and copy back (Ops/Attention/AttentionFallback.cs),
    // so a backend without a native kernel still works. CpuBackend implements them natively (Cpu/CpuBackend.Attention.cs).
    // All storages are contiguous from element 0: q [B, H, Tq, D], k and v [B, H, Tk, D], as described by dims.

    /// <summary>The output [B, H, Tq, D] of the causal attention family member <paramref name="family"/>.</summary>
    Storage CausalAttentionForward(Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family)
        => AttentionFallback.Forward(this, q, k, v, dims, family);

    /// <summary>Gradients of q, k and v given the output gradient <paramref name="gradOutput"/> [B, H, Tq, D].</summary>
    (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
        => AttentionFallback.Backward(this, q, k, v, gradOutput, dims, family);

    /// <summary>The final attention weights [B, H, Tq, Tk] (zero above the causal diagonal), for diagnostics.</summary>
    Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family)
        => AttentionFallback.Weights(this, q, k, dims, family);

    /// <summary>
    /// Batched matrix product. <paramref name="la"/> is [batch..., m, k] and <paramref name="lb"/> is [batch..., k, n],
    /// with the batch dims already broadcast (stride 0 where shared). Any strides; the result is contiguous [batch..., m, n].
    /// </summary>
    Storage MatMul(Storage a, Layout la, Storage b, Layout lb);

    /// <summary>Selects slices along <paramref name="axis"/> by int32 indices (a 1-D contiguous storage).</summary>
    Storage IndexSelect(Storage x, Layout lx, int axis, Storage indices, int indexCount);
    /// <summary>Inverse of IndexSelect: a zero tensor of <paramref name="shape"/> with slices of <paramref name="src"/> added at the indices along the axis.</summary>
    Storage IndexAdd(ReadOnlySpan<int> shape, int axis, Storage indices, int indexCount, Storage src, Layout lsrc);
    /// <summary>out[..., i, ...] = x[..., index[..., i, ...], ...] along one axis; index has the output shape.</summary>
    Storage Gather(Storage x, Layout lx, int axis, Storage index, Layout lindex);
    /// <summary>A zero tensor of <paramref name="shape"/> with out[..., index[...], ...] += src[...] along one axis.</summary>
    Storage ScatterAdd(ReadOnlySpan<int> shape, int axis, Storage index, Layout lindex, Storage src, Layout lsrc);
}
