namespace Engine.Cpu;

// Fused causal attention for the whole family (Softmax, LSSA, LSSAR, the ablations): see AttentionFamily and
// docs/attention.md for the maths, and AttentionReference for the composed version this must agree with. The kernel
// itself is in Cpu/Attention/: the drivers (AttentionKernel.cs), the per-thread workspace, the row stages and the
// register-blocked products.
public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage CausalAttentionForward(Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(AttentionKernel<float>.Forward(Data<float>(q), Data<float>(k), Data<float>(v), dims, family)),
        DType.Float64 => Wrap(AttentionKernel<double>.Forward(Data<double>(q), Data<double>(k), Data<double>(v), dims, family)),
        _ => throw new NotSupportedException($"causal_attention: needs float32 or float64, got {q.DType.Name()}"),
    };

    /// <inheritdoc/>
    /// <remarks>Views whose rows have adjacent elements (the usual case) are read in place; others are gathered into scratch first.</remarks>
    public Storage CausalAttentionForward(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(ForwardOfViews<float>(q, lq, k, lk, v, lv, dims, family)),
        DType.Float64 => Wrap(ForwardOfViews<double>(q, lq, k, lk, v, lv, dims, family)),
        _ => throw new NotSupportedException($"causal_attention: needs float32 or float64, got {q.DType.Name()}"),
    };

    private static T[] ForwardOfViews<T>(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv, AttentionDims dims, AttentionFamily family)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var x = new ViewInputs<T>(q, lq, k, lk, v, lv, dims);
        return AttentionKernel<T>.Forward(x.Q, x.Qo, x.K, x.Ko, x.V, x.Vo, dims, family);
    }

    /// <summary>
    /// q, k and v of one attention call as arrays and row placements (<see cref="AttentionInput{T}"/>); disposing
    /// returns the scratch copies of views that had to be gathered.
    /// </summary>
    private ref struct ViewInputs<T> where T : unmanaged
    {
        private T[]? qCopy, kCopy, vCopy;
        public readonly T[] Q, K, V;
        public readonly AttentionOperand Qo, Ko, Vo;

        public ViewInputs(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv, AttentionDims dims)
        {
            try
            {
                (Q, Qo) = AttentionInput(q, lq, dims.Queries, dims, "q", ref qCopy);
                (K, Ko) = AttentionInput(k, lk, dims.Keys, dims, "k", ref kCopy);
                (V, Vo) = AttentionInput(v, lv, dims.Keys, dims, "v", ref vCopy);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            if (qCopy is not null) CpuArrayPool.Return(qCopy);
            if (kCopy is not null) CpuArrayPool.Return(kCopy);
            if (vCopy is not null) CpuArrayPool.Return(vCopy);
            qCopy = kCopy = vCopy = null;
        }
    }

    /// <summary>
    /// The array and row placement of one attention input [B, H, <paramref name="rows"/>, D] after checking that its
    /// view has that shape and lies inside its storage; a view whose rows' elements are not adjacent is gathered into
    /// <paramref name="copy"/> (scratch the caller gives back).
    /// </summary>
    private static (T[] Data, AttentionOperand Operand) AttentionInput<T>(Storage s, Layout l, int rows, AttentionDims d, string name, ref T[]? copy)
        where T : unmanaged
    {
        var data = Data<T>(s);
        var shape = l.ShapeSpan;
        if (shape.Length != 4 || shape[0] != d.Batch || shape[1] != d.Heads || shape[2] != rows || shape[3] != d.HeadDim)
            throw new ArgumentException($"causal_attention: {name} has shape {Shapes.Format(shape)}, expected [{d.Batch}, {d.Heads}, {rows}, {d.HeadDim}] from the dims");
        if (l.Count > 0)
        {
            // The kernel reads views without bounds checks: every element must lie inside the storage.
            long lo = l.Offset, hi = l.Offset;
            for (int i = 0; i < 4; i++)
            {
                long reach = (long)(shape[i] - 1) * l.StrideSpan[i];
                if (reach < 0) lo += reach; else hi += reach;
            }
            if (lo < 0 || hi >= data.Length)
                throw new ArgumentException($"causal_attention: the view of {name} ({l}) reaches elements {lo}..{hi}, outside its storage of {data.Length}");
        }
        if (AttentionOperand.Of(l) is { } operand) return (data, operand);
        copy = CpuArrayPool.RentScratch<T>(l.Count);
        Gather(data, l, copy.AsSpan(0, l.Count));
        return (copy, AttentionOperand.Compact(d.Heads, rows, d.HeadDim));
    }

    /// <inheritdoc/>
    public (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        switch (q.DType)
        {
            case DType.Float32:
            {
                var (dq, dk, dv) = AttentionKernel<float>.Backward(Data<float>(q), Data<float>(k), Data<float>(v), Data<float>(gradOutput), dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            case DType.Float64:
            {
                var (dq, dk, dv) = AttentionKernel<double>.Backward(Data<double>(q), Data<double>(k), Data<double>(v), Data<double>(gradOutput), dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            default: throw new NotSupportedException($"causal_attention backward: needs float32 or float64, got {q.DType.Name()}");
        }
    }

    /// <inheritdoc/>
    /// <remarks>As the forward of views: rows with adjacent elements are read in place, others gathered first.</remarks>
    public (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv,
        Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        switch (q.DType)
        {
            case DType.Float32:
            {
                var (dq, dk, dv) = BackwardOfViews<float>(q, lq, k, lk, v, lv, gradOutput, dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            case DType.Float64:
            {
                var (dq, dk, dv) = BackwardOfViews<double>(q, lq, k, lk, v, lv, gradOutput, dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            default: throw new NotSupportedException($"causal_attention backward: needs float32 or float64, got {q.DType.Name()}");
        }
    }

    private static (T[] Dq, T[] Dk, T[] Dv) BackwardOfViews<T>(Storage q, Layout lq, Storage k, Layout lk, Storage v, Layout lv,
        Storage gradOutput, AttentionDims dims, AttentionFamily family) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var x = new ViewInputs<T>(q, lq, k, lk, v, lv, dims);
        return AttentionKernel<T>.Backward(x.Q, x.Qo, x.K, x.Ko, x.V, x.Vo, Data<T>(gradOutput), dims, family);
    }

    /// <inheritdoc/>
    public Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(AttentionKernel<float>.Weights(Data<float>(q), Data<float>(k), dims, family)),
        DType.Float64 => Wrap(AttentionKernel<double>.Weights(Data<double>(q), Data<double>(k), dims, family)),
        _ => throw new NotSupportedException($"causal_attention_weights: needs float32 or float64, got {q.DType.Name()}"),
    };
}
