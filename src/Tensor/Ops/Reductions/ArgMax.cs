namespace Engine;

// Index-valued reductions: int32 results, no gradient.
public sealed partial class Tensor
{
    /// <summary>Index of the maximum along <paramref name="axis"/> (first one on ties), as int32.</summary>
    public Tensor ArgMax(int axis = -1, bool keepDim = false) => ArgExtremum(ReduceOp.Max, axis, keepDim, "argmax");

    /// <summary>Index of the minimum along <paramref name="axis"/> (first one on ties), as int32.</summary>
    public Tensor ArgMin(int axis = -1, bool keepDim = false) => ArgExtremum(ReduceOp.Min, axis, keepDim, "argmin");

    private Tensor ArgExtremum(ReduceOp op, int axis, bool keepDim, string name)
    {
        RequireFloat(name);
        int a = Shapes.Axis(axis, Rank, name, ShapeSpan);
        if (Layout.ShapeArray[a] == 0) throw new ArgumentException($"{name}: axis {a} of shape {Shapes.Format(ShapeSpan)} is empty");
        return new Tensor(Backend.ArgReduce(op, Storage, Layout, a), ReducedShape([a], keepDim));
    }
}
