namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Causal multi-head attention: q [B, H, Tq, D], k and v [B, H, Tk, D] with Tk = <paramref name="queryOffset"/> + Tq
    /// (the offset is the number of cached positions before the first query; 0 for a full sequence).
    /// Returns [B, H, Tq, D].
    /// </summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int queryOffset = 0) =>
        AttentionReference.Compute(q, k, v, spec, queryOffset);
}
