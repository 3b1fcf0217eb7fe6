using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>x + s.</summary>
    public Tensor AddScalar(double s)
    {
        var y = UnaryRaw(UnaryOp.AddScalar, "add_scalar", s);
        return Graph.Output(y, "add_scalar", () => new ScalarAffineNode("add_scalar", 1), this);
    }

    /// <summary>x · s.</summary>
    public Tensor MulScalar(double s)
    {
        var y = UnaryRaw(UnaryOp.MulScalar, "mul_scalar", s);
        return Graph.Output(y, "mul_scalar", () => new ScalarAffineNode("mul_scalar", s), this);
    }

    /// <summary>s − x.</summary>
    public Tensor RSubScalar(double s)
    {
        var y = UnaryRaw(UnaryOp.RSubScalar, "rsub_scalar", s);
        return Graph.Output(y, "rsub_scalar", () => new ScalarAffineNode("rsub_scalar", -1), this);
    }

    /// <summary>s / x.</summary>
    public Tensor RDivScalar(double s)
    {
        var y = UnaryRaw(UnaryOp.RDivScalar, "rdiv_scalar", s);
        return Graph.Output(y, "rdiv_scalar", () => new RDivScalarNode(y), this);
    }

    /// <summary>x + s.</summary>
    public static Tensor operator +(Tensor a, double s) => a.AddScalar(s);
    /// <summary>s + x.</summary>
    public static Tensor operator +(double s, Tensor a) => a.AddScalar(s);
    /// <summary>x − s.</summary>
    public static Tensor operator -(Tensor a, double s) => a.AddScalar(-s);
    /// <summary>s − x.</summary>
    public static Tensor operator -(double s, Tensor a) => a.RSubScalar(s);
    /// <summary>x · s.</summary>
    public static Tensor operator *(Tensor a, double s) => a.MulScalar(s);
    /// <summary>s · x.</summary>
    public static Tensor operator *(double s, Tensor a) => a.MulScalar(s);
    /// <summary>x / s.</summary>
    public static Tensor operator /(Tensor a, double s) => a.MulScalar(1.0 / s);
    /// <summary>s / x.</summary>
    public static Tensor operator /(double s, Tensor a) => a.RDivScalar(s);
    /// <summary>−x.</summary>
    public static Tensor operator -(Tensor a) => a.Neg();
}

/// <summary>y = slope·x + c for a constant c: dy/dx = slope.</summary>
internal sealed class ScalarAffineNode(string name, double slope) : Node
{
    public override string Name => name;
    protected internal override Tensor?[] Backward(Tensor g) => [slope == 1 ? g : g.MulScalar(slope)];
}

/// <summary>y = s/x: dy/dx = −s/x² = −y/x.</summary>
internal sealed class RDivScalarNode(Tensor y) : Node(y)
{
    public override string Name => "rdiv_scalar";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Mul(Saved(0)).Div(Input(0)).Neg()];
}
