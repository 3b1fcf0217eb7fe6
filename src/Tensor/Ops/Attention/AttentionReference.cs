namespace Engine;

/// <summary>
/// The slow, composed reference for causal attention: built only from primitive differentiable ops, so its
/// gradients come from autograd. Tests compare the fused kernels with it and with finite differences.
/// </summary>
public static class AttentionReference
{
    /// <summary>
    /// Causal attention of q [B, H, Tq, D] over k, v [B, H, Tk, D] with Tk = queryOffset + Tq: query row i is at
    /// absolute position queryOffset + i and sees keys 0..queryOffset + i.
    /// </summary>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int queryOffset = 0)
    {
        AttentionChecks.Validate(q, k, v, queryOffset, "attention_reference");
        int tq = q.Dim(2), tk = k.Dim(2), d = q.Dim(3);
        // mask[i, j] = 1 where key j is visible from query i.
        var maskValues = new double[tq * tk];
        for (int i = 0; i < tq; i++) for (int j = 0; j <= queryOffset + i; j++) maskValues[i * tk + j] = 1;
        var visible = Tensor.FromDoubles(maskValues, [tq, tk], q.DType, q.Device);
        var hidden = visible.RSubScalar(1);
        Tensor weights;
        switch (spec.Kind)
        {
            case AttentionKind.Softmax:
            {
                var s = q.MatMul(k.Transpose(-1, -2)).MulScalar(1 / Math.Sqrt(d));
                weights = s.MaskedFill(hidden, double.NegativeInfinity).Softmax(-1);
                break;
            }
            default:
                throw new NotSupportedException($"attention_reference: {spec.Kind} is not implemented in the reference yet");
        }
        return weights.MatMul(v);
    }
}

/// <summary>Shape checks shared by the fused attention op and its reference.</summary>
internal static class AttentionChecks
{
    public static void Validate(Tensor q, Tensor k, Tensor v, int queryOffset, string op)
    {
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"{op}: q, k, v must be [batch, heads, time, head_dim]; got {Shapes.Format(q.ShapeSpan)}, {Shapes.Format(k.ShapeSpan)}, {Shapes.Format(v.ShapeSpan)}");
        if (!Shapes.Equal(k.ShapeSpan, v.ShapeSpan) || q.Dim(0) != k.Dim(0) || q.Dim(1) != k.Dim(1) || q.Dim(3) != k.Dim(3))
            throw new ArgumentException($"{op}: shapes q {Shapes.Format(q.ShapeSpan)}, k {Shapes.Format(k.ShapeSpan)}, v {Shapes.Format(v.ShapeSpan)} do not agree");
        if (queryOffset < 0 || k.Dim(2) != queryOffset + q.Dim(2))
            throw new ArgumentException($"{op}: {k.Dim(2)} keys for {q.Dim(2)} queries at offset {queryOffset}; expected keys = offset + queries");
    }
}
