using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// this·<paramref name="other"/> + <paramref name="bias"/> for a 2-D this [m, k] and other [k, n], the bias [n]
    /// added to every row: a linear layer's forward as one op. It equals <c>MatMul(other).Add(bias)</c> (its composed
    /// reference) up to rounding: on the CPU the micro-kernel adds the bias to each tile of the product as it stores
    /// it, so the output is written once and never read back. Other cases (bfloat16 autocast,
    /// other ranks or dtypes) run the composed form.
    /// </summary>
    internal Tensor MatMulBias(Tensor other, Tensor bias)
    {
        SameDevice("matmul_bias", this, other);
        SameDevice("matmul_bias", this, bias);
        if (Rank != 2 || other.Rank != 2 || bias.Rank != 1 || DType is not (DType.Float32 or DType.Float64)
            || other.DType != DType || bias.DType != DType || Autocast.Current == Precision.BFloat16)
            return MatMul(other).Add(bias);
        int m = Dim(0), k = Dim(1), n = other.Dim(1);
        if (other.Dim(0) != k)
            throw new ArgumentException($"matmul_bias: inner dimensions differ: {Shapes.Format(ShapeSpan)} · {Shapes.Format(other.ShapeSpan)} ({k} vs {other.Dim(0)})");
        if (bias.Dim(0) != n)
            throw new ArgumentException($"matmul_bias: a bias of shape {Shapes.Format(bias.ShapeSpan)} for a product of {n} columns");
        var y = new Tensor(Backend.MatMulBias(Storage, Layout, other.Storage, other.Layout, bias.Storage, bias.Layout), [m, n]);
        return Graph.Output(y, "matmul_bias", () => new MatMulBiasNode(), this, other, bias);
    }
}

/// <summary>
/// Y = A·B + 1·biasᵀ: dA = dY·Bᵀ and dB = Aᵀ·dY as for <see cref="MatMulNode"/>; the bias's gradient is dY, which
/// the engine sums over the rows (as for a broadcast add).
/// </summary>
internal sealed class MatMulBiasNode : Node
{
    public override string Name => "matmul_bias";
    protected internal override Tensor?[] Backward(Tensor g) =>
    [
        NeedsGrad(0) ? g.MatMul(Input(1).Transpose(-1, -2)) : null,
        NeedsGrad(1) ? MatMulNode.TransposeTimes(Input(0), g) : null,
        NeedsGrad(2) ? g : null,
    ];
}
