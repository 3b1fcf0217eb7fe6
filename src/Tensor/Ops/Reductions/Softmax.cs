using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Softmax along <paramref name="axis"/>: e^(x − max) / Σ e^(x − max), stable for any finite input.</summary>
    public Tensor Softmax(int axis = -1) => SoftmaxFamily(axis, log: false);

    /// <summary>Log-softmax along <paramref name="axis"/>: (x − max) − ln Σ e^(x − max), stable for any finite input.</summary>
    public Tensor LogSoftmax(int axis = -1) => SoftmaxFamily(axis, log: true);

    private Tensor SoftmaxFamily(int axis, bool log)
    {
        string name = log ? "log_softmax" : "softmax";
        RequireFloat(name);
        if (Rank == 0) throw new ArgumentException($"{name}: needs at least one dimension, got a scalar");
        int a = Shapes.Axis(axis, Rank, name, ShapeSpan);
        if (a != Rank - 1) return Transpose(a, -1).SoftmaxFamily(-1, log).Transpose(a, -1);
        var y = new Tensor(Backend.Softmax(Storage, Layout, log), ShapeSpan);
        return Graph.Output(y, name, () => new SoftmaxNode(y, log), this);
    }
}

/// <summary>
/// Softmax: dx = y ⊙ (g − Σ g⊙y) (the Jacobian diag(y) − yyᵀ applied to g). Log-softmax: dx = g − softmax(x)·Σ g.
/// Both are fused row kernels in the backend.
/// </summary>
internal sealed class SoftmaxNode(Tensor y, bool log) : Node(y)
{
    public override string Name => log ? "log_softmax" : "softmax";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var y = Saved(0);
        int cols = y.Dim(-1), rows = cols == 0 ? 0 : y.Count / cols;
        var gc = g.Contiguous();
        return [new Tensor(y.Backend.SoftmaxBackward(y.Storage, gc.Storage, rows, cols, log), y.ShapeSpan)];
    }
}
