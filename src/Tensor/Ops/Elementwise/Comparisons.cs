namespace Engine;

// Comparisons produce masks (1 where true, 0 elsewhere) in the inputs' dtype. They have no gradient.
public sealed partial class Tensor
{
    private Tensor Compare(BinaryOp op, Tensor other, string name) => BinaryRaw(op, this, other, name);

    /// <summary>Mask of a == b (broadcasting).</summary>
    public Tensor Eq(Tensor other) => Compare(BinaryOp.Eq, other, "eq");
    /// <summary>Mask of a ≠ b (broadcasting).</summary>
    public Tensor Ne(Tensor other) => Compare(BinaryOp.Ne, other, "ne");
    /// <summary>Mask of a &lt; b (broadcasting).</summary>
    public Tensor Lt(Tensor other) => Compare(BinaryOp.Lt, other, "lt");
    /// <summary>Mask of a ≤ b (broadcasting).</summary>
    public Tensor Le(Tensor other) => Compare(BinaryOp.Le, other, "le");
    /// <summary>Mask of a &gt; b (broadcasting).</summary>
    public Tensor Gt(Tensor other) => Compare(BinaryOp.Gt, other, "gt");
    /// <summary>Mask of a ≥ b (broadcasting).</summary>
    public Tensor Ge(Tensor other) => Compare(BinaryOp.Ge, other, "ge");
    /// <summary>Mask of x == s.</summary>
    public Tensor Eq(double s) => UnaryRaw(UnaryOp.EqScalar, "eq", s);
    /// <summary>Mask of x &gt; s.</summary>
    public Tensor Gt(double s) => UnaryRaw(UnaryOp.GtScalar, "gt", s);
    /// <summary>Mask of x &lt; s.</summary>
    public Tensor Lt(double s) => UnaryRaw(UnaryOp.LtScalar, "lt", s);
}
