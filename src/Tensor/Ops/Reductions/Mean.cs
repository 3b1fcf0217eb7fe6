namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Mean over <paramref name="axes"/> (all when null). Composed: Σ · 1/n, so its gradient is Sum's scaled.</summary>
    public Tensor Mean(int[]? axes = null, bool keepDim = false)
    {
        var ax = ReductionAxes(axes, "mean");
        int n = 1;
        foreach (int a in ax) n *= Layout.ShapeArray[a];
        if (n == 0) throw new ArgumentException($"mean: reducing axes [{string.Join(", ", ax)}] of shape {Shapes.Format(ShapeSpan)} averages zero elements");
        return Sum(ax, keepDim).MulScalar(1.0 / n);
    }

    /// <summary>Mean over one axis.</summary>
    public Tensor Mean(int axis, bool keepDim = false) => Mean([axis], keepDim);
}
