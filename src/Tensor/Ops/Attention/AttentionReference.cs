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
    /// absolute position queryOffset + i and sees keys up to queryOffset + i (the last w of them with a window).
    /// <paramref name="headScale"/> [H] (SSMax's s_h) multiplies each head's queries; null means 1.
    /// </summary>
    public static Tensor Compute(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int queryOffset = 0, Tensor? headScale = null)
    {
        AttentionChecks.Validate(q, k, v, queryOffset, "attention_reference");
        return Weights(q, k, spec, queryOffset, headScale).MatMul(v);
    }

    /// <summary>The final attention weights w [B, H, Tq, Tk] (zero outside each row's visible keys).</summary>
    public static Tensor Weights(Tensor q, Tensor k, AttentionSpec spec, int queryOffset = 0, Tensor? headScale = null)
    {
        AttentionChecks.Validate(q, k, k, queryOffset, "attention_reference");
        int heads = q.Dim(1), tq = q.Dim(2), tk = k.Dim(2), d = q.Dim(3);
        var family = spec.Family(d, "attention_reference");
        q = AttentionChecks.ScaleHeads(q, headScale, "attention_reference");
        // mask[i, j] = 1 where key j is visible from query i; n[i] = number of visible keys; dist[i, j] = t_i − j.
        var maskValues = new double[tq * tk];
        var nValues = new double[tq];
        var distValues = new double[tq * tk];
        for (int i = 0; i < tq; i++)
        {
            int end = queryOffset + i + 1, lo = family.FirstKey(end);
            nValues[i] = end - lo;
            for (int j = 0; j < tk; j++)
            {
                distValues[i * tk + j] = end - 1 - j;
                if (j >= lo && j < end) maskValues[i * tk + j] = 1;
            }
        }
        var visible = Tensor.FromDoubles(maskValues, [tq, tk], q.DType, q.Device);
        var hidden = visible.RSubScalar(1);
        var n = Tensor.FromDoubles(nValues, [tq, 1], q.DType, q.Device);

        // Scores s = λ ⊙ (q̃ k̃ᵀ) − m_h·(t_i − j).
        Tensor s = spec.Kind switch
        {
            AttentionKind.Lssa or AttentionKind.SigmoidL1 => Normalize(q).MatMul(Normalize(k).Transpose(-1, -2)).Mul(n.Log().MulScalar(Math.Log(family.ScaleDim))),
            AttentionKind.SsMax => q.MatMul(k.Transpose(-1, -2)).Mul(n.Log().MulScalar(1 / Math.Sqrt(d))),
            AttentionKind.Softmax or AttentionKind.SoftplusL1 => q.MatMul(k.Transpose(-1, -2)).MulScalar(1 / Math.Sqrt(d)),
            _ => throw new ArgumentException($"attention_reference: unknown attention kind {spec.Kind}"),
        };
        if (spec.Alibi)
        {
            var slopes = new double[heads];
            for (int h = 0; h < heads; h++) slopes[h] = family.AlibiSlope(h, heads);
            var bias = Tensor.FromDoubles(slopes, [heads, 1, 1], q.DType, q.Device).Mul(Tensor.FromDoubles(distValues, [tq, tk], q.DType, q.Device));
            s = s.Sub(bias);
        }

        // First stage: a = f(s) / Σ f(s) over the visible keys.
        Tensor a;
        if (family.Positive == PositiveFunction.Exp) a = s.MaskedFill(hidden, double.NegativeInfinity).Softmax(-1);
        else
        {
            var u = (family.Positive == PositiveFunction.Softplus ? s.Softplus() : s.Sigmoid()).Mul(visible);
            a = u.Div(u.Sum(-1, keepDim: true));
        }
        if (!spec.Reweight) return a;

        // Second stage: x = n·a − o, r = ReLU(x / max x)^p, w = r / Σ r; rows with max x ≤ 0 keep a.
        // Dividing by the row maximum keeps x^p finite in float32; w does not depend on that factor, so it is
        // treated as a constant (detached) without changing the gradient. Hidden keys have a = 0, so x ≤ 0 there.
        var o = n.Gt(family.WarmRows);
        var x = a.Mul(n).Sub(o);
        var xMax = x.Max(-1, keepDim: true).Detach();
        var live = xMax.Gt(n.MulScalar(AttentionFamily.DegenerateTolerance(1, q.DType)));   // uniform up to rounding: degenerate
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

    /// <summary>q with head h multiplied by headScale[h] (recorded, so the scale gets a gradient); q itself when null.</summary>
    public static Tensor ScaleHeads(Tensor q, Tensor? headScale, string op)
    {
        if (headScale is null) return q;
        if (headScale.Rank != 1 || headScale.Dim(0) != q.Dim(1))
            throw new ArgumentException($"{op}: the head scale must be [heads] = [{q.Dim(1)}], got {Shapes.Format(headScale.ShapeSpan)}");
        if (headScale.DType != q.DType || headScale.Device != q.Device)
            throw new ArgumentException($"{op}: the head scale must match q's dtype and device ({q.DType.Name()} on {q.Device}), got {headScale.DType.Name()} on {headScale.Device}");
        return q.Mul(headScale.Reshape(1, q.Dim(1), 1, 1));
    }
}
