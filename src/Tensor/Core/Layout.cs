namespace Engine;

/// <summary>
/// How a tensor's elements sit in its storage: shape, strides (in elements) and offset.
/// Views (reshape, permute, narrow, expand) only build a new layout over the same storage.
/// </summary>
public sealed class Layout
{
    internal readonly int[] ShapeArray;
    internal readonly int[] StrideArray;

    /// <summary>Creates a layout; the arrays are copied.</summary>
    public Layout(ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, int offset)
    {
        if (shape.Length != strides.Length)
            throw new ArgumentException($"layout: shape has rank {shape.Length} but strides have rank {strides.Length}");
        ShapeArray = shape.ToArray();
        StrideArray = strides.ToArray();
        Offset = offset;
        Count = Shapes.Count(shape, "layout");
        IsContiguous = ComputeContiguous();
    }

    /// <summary>Row-major contiguous layout of a shape, at offset 0.</summary>
    public static Layout Contiguous(ReadOnlySpan<int> shape) => new(shape, Shapes.ContiguousStrides(shape), 0);

    /// <summary>Number of dimensions.</summary>
    public int Rank => ShapeArray.Length;
    /// <summary>Number of elements.</summary>
    public int Count { get; }
    /// <summary>Index of the first element in the storage.</summary>
    public int Offset { get; }
    /// <summary>True when elements are row-major and gap-free from <see cref="Offset"/>.</summary>
    public bool IsContiguous { get; }
    /// <summary>The shape (a copy).</summary>
    public int[] Shape => (int[])ShapeArray.Clone();
    /// <summary>The strides in elements (a copy).</summary>
    public int[] Strides => (int[])StrideArray.Clone();
    /// <summary>The shape without a copy (backends read it on every call).</summary>
    public ReadOnlySpan<int> ShapeSpan => ShapeArray;
    /// <summary>The strides in elements, without a copy.</summary>
    public ReadOnlySpan<int> StrideSpan => StrideArray;

    private bool ComputeContiguous()
    {
        int expected = 1;
        for (int d = Rank - 1; d >= 0; d--)
        {
            if (ShapeArray[d] == 1) continue;
            if (StrideArray[d] != expected) return Count == 0;
            expected *= ShapeArray[d];
        }
        return true;
    }

    /// <summary>Storage index of the element at a multi-index.</summary>
    public int IndexOf(ReadOnlySpan<int> index)
    {
        int o = Offset;
        for (int d = 0; d < index.Length; d++) o += index[d] * StrideArray[d];
        return o;
    }

    /// <summary>
    /// Enumerates the storage index of every element in row-major order into <paramref name="dst"/>
    /// (length <see cref="Count"/>). Used by strided fallbacks.
    /// </summary>
    public void StorageIndices(Span<int> dst)
    {
        if (Count == 0) return;
        if (IsContiguous) { for (int i = 0; i < dst.Length; i++) dst[i] = Offset + i; return; }
        int rank = Rank;
        if (rank == 0) { dst[0] = Offset; return; }
        Span<int> idx = stackalloc int[rank];
        int inner = ShapeArray[rank - 1], innerStride = StrideArray[rank - 1];
        int outer = Count / inner, pos = 0, baseOff = Offset;
        for (int o = 0; o < outer; o++)
        {
            for (int i = 0, off = baseOff; i < inner; i++, off += innerStride) dst[pos++] = off;
            for (int d = rank - 2; d >= 0; d--)
            {
                idx[d]++;
                baseOff += StrideArray[d];
                if (idx[d] < ShapeArray[d]) break;
                baseOff -= StrideArray[d] * ShapeArray[d];
                idx[d] = 0;
            }
        }
    }

    /// <summary>Row offsets of every row (all dimensions but the last) in row-major order.</summary>
    internal void RowOffsets(Span<int> dst)
    {
        int rank = Rank;
        if (rank <= 1) { dst[0] = Offset; return; }
        var outerShape = ShapeArray.AsSpan(0, rank - 1);
        var outerStride = StrideArray.AsSpan(0, rank - 1);
        new Layout(outerShape, outerStride, Offset).StorageIndices(dst);
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"shape {Shapes.Format(ShapeArray)}, strides {Shapes.Format(StrideArray)}, offset {Offset}";

    // ---- views: each returns a new layout over the same storage ----

    /// <summary>The same elements with the axes reordered: axis i of the result is axis <paramref name="axes"/>[i] of this layout.</summary>
    public Layout Permute(ReadOnlySpan<int> axes)
    {
        var shape = new int[Rank];
        var strides = new int[Rank];
        for (int i = 0; i < Rank; i++) { shape[i] = ShapeArray[axes[i]]; strides[i] = StrideArray[axes[i]]; }
        return new Layout(shape, strides, Offset);
    }

    internal Layout Narrow(int axis, int start, int length)
    {
        var shape = Shape;
        shape[axis] = length;
        return new Layout(shape, StrideArray, length == 0 ? Offset : Offset + start * StrideArray[axis]);
    }

    /// <summary>Broadcasts to <paramref name="target"/> by giving new and size-1 dimensions stride 0.</summary>
    internal Layout BroadcastTo(ReadOnlySpan<int> target)
    {
        int extra = target.Length - Rank;
        var strides = new int[target.Length];
        for (int d = 0; d < target.Length; d++)
        {
            int s = d - extra;
            if (s < 0) { strides[d] = 0; continue; }
            strides[d] = ShapeArray[s] == target[d] ? StrideArray[s] : 0;
        }
        return new Layout(target, strides, Offset);
    }

    /// <summary>
    /// A view with a new shape of the same element count, without copying, when the strides allow it
    /// (every merged or split group of dimensions is itself contiguous); null otherwise.
    /// </summary>
    internal Layout? TryReshape(ReadOnlySpan<int> newShape)
    {
        if (IsContiguous) return new Layout(newShape, Shapes.ContiguousStrides(newShape), Offset);
        // Drop size-1 dims, then match groups of old dims to groups of new dims with equal products.
        var oldShape = new List<int>(); var oldStride = new List<int>();
        for (int d = 0; d < Rank; d++) if (ShapeArray[d] != 1) { oldShape.Add(ShapeArray[d]); oldStride.Add(StrideArray[d]); }
        var strides = new int[newShape.Length];
        int oi = 0, ni = 0;
        while (ni < newShape.Length)
        {
            if (newShape[ni] == 1) { strides[ni] = 0; ni++; continue; }
            if (oi >= oldShape.Count) return null;
            // Gather a group of old dims that is contiguous among itself.
            int oStart = oi; long oProd = oldShape[oi]; oi++;
            int nStart = ni; long nProd = newShape[ni]; ni++;
            while (oProd != nProd)
            {
                if (oProd < nProd)
                {
                    if (oi >= oldShape.Count) return null;
                    if (oldStride[oi - 1] != oldStride[oi] * oldShape[oi]) return null;
                    oProd *= oldShape[oi]; oi++;
                }
                else
                {
                    if (ni >= newShape.Length) return null;
                    nProd *= newShape[ni]; ni++;
                }
            }
            // Strides of the new dims in the group: innermost gets the innermost old stride.
            int stride = oldStride[oi - 1];
            for (int k = ni - 1; k >= nStart; k--)
            {
                strides[k] = newShape[k] == 1 ? 0 : stride;
                stride *= newShape[k];
            }
            _ = oStart;
        }
        return oi == oldShape.Count ? new Layout(newShape, strides, Offset) : null;
    }
}
