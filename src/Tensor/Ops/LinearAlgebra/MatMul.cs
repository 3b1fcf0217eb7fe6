using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Matrix product with NumPy semantics: [..., m, k] · [..., k, n] → [..., m, n], leading batch dims broadcast;
    /// a 1-D left operand is a row vector and a 1-D right operand a column vector (the added dim is removed;
    /// two 1-D operands give their dot product as a scalar).
    /// Transposed and strided operands are read in place, without copies.
    /// Two bfloat16 operands give a float32 result (float32 accumulation); inside a bfloat16 <see cref="Autocast"/>
    /// scope float32 operands are cast to bfloat16 first (recorded, so their gradients are float32).
    /// </summary>
    public Tensor MatMul(Tensor other)
    {
        SameDevice("matmul", this, other);
        if (Autocast.Current == Precision.BFloat16 && IsAutocastable(this) && IsAutocastable(other)
            && (DType != DType.BFloat16 || other.DType != DType.BFloat16))
            return To(DType.BFloat16).MatMul(other.To(DType.BFloat16));
        SameDType("matmul", this, other);
        if (!DType.IsFloat())
            throw new ArgumentException($"matmul: needs a floating-point tensor, got {DType.Name()} of shape {Shapes.Format(ShapeSpan)}");
        if (Rank == 0 || other.Rank == 0)
            throw new ArgumentException($"matmul: operands need at least one dimension, got shapes {Shapes.Format(ShapeSpan)} and {Shapes.Format(other.ShapeSpan)}");
        if (Rank == 1 && other.Rank == 1) return Unsqueeze(0).MatMul(other.Unsqueeze(1)).Reshape([]);
        if (Rank == 1) return Unsqueeze(0).MatMul(other).Squeeze(-2);
        if (other.Rank == 1) return MatMul(other.Unsqueeze(1)).Squeeze(-1);
        int m = Dim(-2), k = Dim(-1), k2 = other.Dim(-2), n = other.Dim(-1);
        if (k != k2)
            throw new ArgumentException($"matmul: inner dimensions differ: {Shapes.Format(ShapeSpan)} · {Shapes.Format(other.ShapeSpan)} ({k} vs {k2})");
        int[] batch;
        try { batch = Shapes.Broadcast(ShapeSpan[..^2], other.ShapeSpan[..^2], "matmul"); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"matmul: batch dimensions of {Shapes.Format(ShapeSpan)} · {Shapes.Format(other.ShapeSpan)} cannot be broadcast ({e.Message})", e);
        }
        int[] aShape = [.. batch, m, k], bShape = [.. batch, k, n], yShape = [.. batch, m, n];
        var y = new Tensor(Backend.MatMul(Storage, Layout.BroadcastTo(aShape), other.Storage, other.Layout.BroadcastTo(bShape)), yShape);
        return Graph.Output(y, "matmul", () => new MatMulNode(), this, other);
    }

    private static bool IsAutocastable(Tensor t) => t.DType is DType.Float32 or DType.BFloat16;
}

/// <summary>
/// Y = A·B: dA = dY·Bᵀ, dB = Aᵀ·dY (transposes are views; batch broadcasting is summed by the engine). With bfloat16
/// operands (autocast) the float32 dY is cast to bfloat16 and both products run like the forward, bfloat16 × bfloat16
/// with float32 accumulation, so the gradients are float32 (the casts' backward passes them on to the float32 inputs).
/// </summary>
internal sealed class MatMulNode : Node
{
    public override string Name => "matmul";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var a = Input(0);
        var b = Input(1);
        if (a.DType == DType.BFloat16) g = g.To(DType.BFloat16);
        return
        [
            NeedsGrad(0) ? g.MatMul(b.Transpose(-1, -2)) : null,
            NeedsGrad(1) ? TransposeTimes(a, g) : null,
        ];
    }

    /// <summary>
    /// aᵀ·g, the right operand's gradient. For contiguous 2-D operands (a linear layer's weight gradient, a [k, m]
    /// and g [k, n] with k the tokens) it runs as (gᵀ·a)ᵀ, a transposed view of the [n, m] product, where the
    /// backend says that orientation is faster (<see cref="IBackend.TransposedProductIsFaster"/>): every element is
    /// the same sum of the same products in the same order, so the values are identical.
    /// </summary>
    internal static Tensor TransposeTimes(Tensor a, Tensor g)
    {
        bool flip = a.Rank == 2 && g.Rank == 2 && a.IsContiguous && g.IsContiguous && a.DType == g.DType && a.Device == g.Device
            && a.Backend.TransposedProductIsFaster(a.Dim(1), g.Dim(1), a.DType);
        return flip ? g.Transpose(-1, -2).MatMul(a).Transpose(-1, -2) : a.Transpose(-1, -2).MatMul(g);
    }
}
