namespace Engine;

/// <summary>
/// The slow, composed reference for causal attention: built only from primitive differentiable ops, so its
/// gradients come from autograd. Tests compare the fused kernels with it and with finite differences; it
/// materialises the full [Tq, Tk] weight matrix per head, so it is meant for small shapes.
/// The variants follow Gao &amp; Spratling, arXiv 2501.13428 (LSSA, LSSAR); see docs/attention.md.
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
        return Weights(q, k, spec, queryOffset).MatMul(v);
    }

    /// <summary>The final attention weights w [B, H, Tq, Tk] (zero above the causal diagonal).</summary>
    public static Tensor Weights(Tensor q, Tensor k, AttentionSpec spec, int queryOffset = 0)
    {
        AttentionChecks.Validate(q, k, k, queryOffset, "attention_reference");
        int tq = q.Dim(2), tk = k.Dim(2), d = q.Dim(3);
        var family = AttentionFamily.Of(spec, d, "attention_reference");
        // mask[i, j] = 1 where key j is visible from query i; n[i] = number of visible keys.
        var maskValues = new double[tq * tk];
        var nValues = new double[tq];
        for (int i = 0; i < tq; i++)
        {
            nValues[i] = queryOffset + i + 1;
            for (int j = 0; j <= queryOffset + i; j++) maskValues[i * tk + j] = 1;
        }
        var visible = Tensor.FromDoubles(maskValues, [tq, tk], q.DType, q.Device);
        var hidden = visible.RSubScalar(1);
        var n = Tensor.FromDoubles(nValues, [tq, 1], q.DType, q.Device);

        // First stage: a = f(s) / Σ f(s) over the visible keys.
        Tensor a;
        switch (spec.Kind)
        {
            case AttentionKind.Softmax:
            {
                var s = q.MatMul(k.Transpose(-1, -2)).MulScalar(1 / Math.Sqrt(d));
                a = s.MaskedFill(hidden, double.NegativeInfinity).Softmax(-1);
                break;
            }
            case AttentionKind.Lssa:
            {
                // λ_i = log(d_s)·log(n_i); c = λ ⊙ (q̂ k̂ᵀ).
                var lambda = n.Log().MulScalar(Math.Log(family.ScaleDim));
                var c = Normalize(q).MatMul(Normalize(k).Transpose(-1, -2)).Mul(lambda);
                var u = c.Softplus().Mul(visible);
                a = u.Div(u.Sum(-1, keepDim: true));
                break;
            }
            case AttentionKind.SoftplusL1:
            {
                var s = q.MatMul(k.Transpose(-1, -2)).MulScalar(1 / Math.Sqrt(d));
                var u = s.Softplus().Mul(visible);
                a = u.Div(u.Sum(-1, keepDim: true));
                break;
            }
            default:
                throw new ArgumentException($"attention_reference: unknown attention kind {spec.Kind}");
        }
        if (!spec.Reweight) return a;

        // Second stage: x = n·a − o, r = ReLU(x / max x)^p, w = r / Σ r; rows with max x ≤ 0 keep a.
        // Dividing by the row maximum keeps x^p finite in float32; w does not depend on that factor, so it is
        // treated as a constant (detached) without changing the gradient.
        var o = n.Gt(AttentionFamily.WarmRows);
        var x = a.Mul(n).Sub(o);
        var xMax = x.Max(-1, keepDim: true).Detach();
        var live = xMax.Gt(0);
        var safeMax = Tensor.Where(live, xMax, Tensor.OnesLike(xMax));
        var r = x.Div(safeMax).Relu().PowScalar(spec.Power);
        var sum = r.Sum(-1, keepDim: true);
        var safeSum = sum.Add(sum.Eq(0));
        return Tensor.Where(live, r.Div(safeSum), a);
    }

    /// <summary>x / max(‖x‖₂, ε) along the last axis, written as x / √max(Σx², ε²).</summary>
    private static Tensor Normalize(Tensor x)
    {
        var ss = x.Square().Sum(-1, keepDim: true);
        var floor = Tensor.Full([1], AttentionFamily.NormEpsilon * AttentionFamily.NormEpsilon, x.DType, x.Device);
        return x.Div(ss.Maximum(floor).Sqrt());
    }
}

/// <summary>Shape checks shared by the fused attention op and its reference.</summary>
internal static class AttentionChecks
{
    public static void Validate(Tensor q, Tensor k, Tensor v, int queryOffset, string op)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(k);
        ArgumentNullException.ThrowIfNull(v);
        if (q.Rank != 4 || k.Rank != 4 || v.Rank != 4)
            throw new ArgumentException($"{op}: q, k, v must be [batch, heads, time, head_dim]; got {Shapes.Format(q.ShapeSpan)}, {Shapes.Format(k.ShapeSpan)}, {Shapes.Format(v.ShapeSpan)}");
        if (!Shapes.Equal(k.ShapeSpan, v.ShapeSpan) || q.Dim(0) != k.Dim(0) || q.Dim(1) != k.Dim(1) || q.Dim(3) != k.Dim(3))
            throw new ArgumentException($"{op}: shapes q {Shapes.Format(q.ShapeSpan)}, k {Shapes.Format(k.ShapeSpan)}, v {Shapes.Format(v.ShapeSpan)} do not agree");
        if (queryOffset < 0 || k.Dim(2) != queryOffset + q.Dim(2))
            throw new ArgumentException($"{op}: {k.Dim(2)} keys for {q.Dim(2)} queries at offset {queryOffset}; expected keys = offset + queries");
        if (!q.DType.IsFloat() || q.DType != k.DType || q.DType != v.DType)
            throw new ArgumentException($"{op}: q, k, v must share one floating-point dtype; got {q.DType.Name()}, {k.DType.Name()}, {v.DType.Name()}");
        if (q.Device != k.Device || q.Device != v.Device)
            throw new ArgumentException($"{op}: q, k, v must be on one device; got {q.Device}, {k.Device}, {v.Device}");
    }
}
