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
    public Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(AttentionKernel<float>.Weights(Data<float>(q), Data<float>(k), dims, family)),
        DType.Float64 => Wrap(AttentionKernel<double>.Weights(Data<double>(q), Data<double>(k), dims, family)),
        _ => throw new NotSupportedException($"causal_attention_weights: needs float32 or float64, got {q.DType.Name()}"),
    };
}
