namespace Engine.Cpu;

/// <summary>
/// Where the rows of one attention input (q, k or v, [B, H, T, D]) lie in its array: the rows of head (b, h) start
/// at <see cref="Offset"/> + b·<see cref="BatchStride"/> + h·<see cref="HeadStride"/>, row t
/// <see cref="RowStride"/> further on, and the D elements of a row are adjacent. A compact input has strides
/// [H·T·D, T·D, D]; a time-prefix view of a longer buffer (a KV cache) or a head-split view of a fused projection
/// is read where it lies, without a compact copy.
/// </summary>
internal readonly record struct AttentionOperand(int Offset, int BatchStride, int HeadStride, int RowStride)
{
    /// <summary>A compact [B, H, <paramref name="rows"/>, <paramref name="headDim"/>] array from element 0.</summary>
    public static AttentionOperand Compact(int heads, int rows, int headDim) => new(0, heads * rows * headDim, rows * headDim, headDim);

    /// <summary>The operand a [B, H, T, D] layout describes, or null when its elements within a row are not adjacent.</summary>
    public static AttentionOperand? Of(Layout layout)
    {
        var shape = layout.ShapeSpan;
        var strides = layout.StrideSpan;
        if (shape.Length != 4)
            throw new ArgumentException($"causal_attention: an operand must be [batch, heads, time, head_dim], got layout {layout}");
        if (strides[3] != 1 && shape[3] != 1) return null;
        return new AttentionOperand(layout.Offset, strides[0], strides[1], strides[2]);
    }

    /// <summary>Index of the first element of head <paramref name="bh"/> = b·<paramref name="heads"/> + h.</summary>
    public int Head(int bh, int heads) => Offset + bh / heads * BatchStride + bh % heads * HeadStride;
}
