using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Causal multi-head attention: q [B, H, Tq, D], k and v [B, H, Tk, D] with Tk = <paramref name="queryOffset"/> + Tq
    /// (the offset is the number of cached positions before the first query; 0 for a full sequence).
    /// Returns [B, H, Tq, D]. Every <see cref="AttentionSpec"/> runs as one fused kernel with a handwritten backward
    /// (see <see cref="CausalAttentionNode"/>); <see cref="AttentionReference"/> is the composed reference.
    /// <paramref name="headScale"/> [H] multiplies each head's queries before the kernel (SSMax's learnable s_h; its
    /// gradient comes through that product); null means 1.
    /// </summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int queryOffset = 0, Tensor? headScale = null)
    {
        AttentionChecks.Validate(q, k, v, queryOffset, "causal_attention");
        q = AttentionChecks.ScaleHeads(q, headScale, "causal_attention");
        var dims = new AttentionDims(q.Dim(0), q.Dim(1), q.Dim(2), k.Dim(2), q.Dim(3), queryOffset);
        var family = spec.Family(dims.HeadDim);
        if (Graph.ShouldRecord(q, k, v)) return Recorded(q, k, v, dims, family);
        // No backward will need compact copies: the backend reads the views where they lie (a KV cache's time
        // prefix, the heads of the fused projection), so a generated token copies none of the cached keys and values.
        var y = new Tensor(q.Backend.CausalAttentionForward(q.Storage, q.Layout, k.Storage, k.Layout, v.Storage, v.Layout, dims, family), q.ShapeSpan);
        return AnomalyMode.Check(y, "causal_attention");
    }

    /// <summary>
    /// The recorded forward: q, k and v are kept for the backward as the views they are (the heads of a fused
    /// projection need no compact copies; a backend that cannot read views copies them in each pass).
    /// </summary>
    private static Tensor Recorded(Tensor q, Tensor k, Tensor v, AttentionDims dims, AttentionFamily family)
    {
        var y = new Tensor(q.Backend.CausalAttentionForward(q.Storage, q.Layout, k.Storage, k.Layout, v.Storage, v.Layout, dims, family), q.ShapeSpan);
        return Graph.Output(y, "causal_attention", () => new CausalAttentionNode(q, k, v, dims, family), q, k, v);
    }

    /// <summary>
    /// The final attention weights w [B, H, Tq, Tk] of <see cref="CausalAttention"/> (zero above the causal
    /// diagonal and outside a window), from the fused kernel. Not differentiable; meant for diagnostics (entropy,
    /// attention maps). <paramref name="headScale"/> is as in <see cref="CausalAttention"/>.
    /// </summary>
    public static Tensor CausalAttentionWeights(Tensor q, Tensor k, AttentionSpec spec, int queryOffset = 0, Tensor? headScale = null)
    {
        AttentionChecks.Validate(q, k, k, queryOffset, "causal_attention_weights");
        q = AttentionChecks.ScaleHeads(q, headScale, "causal_attention_weights");
        var dims = new AttentionDims(q.Dim(0), q.Dim(1), q.Dim(2), k.Dim(2), q.Dim(3), queryOffset);
        var family = spec.Family(dims.HeadDim, "causal_attention_weights");
        Tensor qc = Dense(q), kc = Dense(k);
        return new Tensor(q.Backend.CausalAttentionWeights(qc.Storage, kc.Storage, dims, family), [dims.Batch, dims.Heads, dims.Queries, dims.Keys]);
    }

    /// <summary>The tensor itself when it is dense (<see cref="IsDense"/>), else a compact copy (not recorded).</summary>
    internal static Tensor Dense(Tensor t) => t.IsDense ? t : new Tensor(t.Packed(), t.ShapeSpan);
}

/// <summary>
/// Backward of the fused causal attention. It keeps only q, k and v (as the views they were given); the backend recomputes each
/// row's scores and weights (as FlashAttention does) instead of storing the [Tq, Tk] matrices, then applies, per row,
/// the chain written out in docs/attention.md: o = Σ w v → the re-weighting's l1 normalisation and ReLU^p → the first
/// stage's l1 normalisation and f′ (σ for Softplus, the Softmax Jacobian for exp) → the scores → the QK normalisation.
/// </summary>
internal sealed class CausalAttentionNode(Tensor q, Tensor k, Tensor v, AttentionDims dims, AttentionFamily family) : Node(q, k, v)
{
    public override string Name => "causal_attention";

    protected internal override Tensor?[] Backward(Tensor g)
    {
        Tensor q = Saved(0), k = Saved(1), v = Saved(2);
        var gc = Tensor.Dense(g);
        var (dq, dk, dv) = q.Backend.CausalAttentionBackward(q.Storage, q.Layout, k.Storage, k.Layout, v.Storage, v.Layout, gc.Storage, dims, family);
        return [new Tensor(dq, q.ShapeSpan), new Tensor(dk, k.ShapeSpan), new Tensor(dv, v.ShapeSpan)];
    }
}
