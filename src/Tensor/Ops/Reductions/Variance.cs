namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Variance over <paramref name="axes"/> (all when null): mean of squared deviations, divided by n − 1 when
    /// <paramref name="unbiased"/>. Composed from mean, sub and square (two passes, so no cancellation).
    /// </summary>
    public Tensor Variance(int[]? axes = null, bool unbiased = false, bool keepDim = false)
    {
        var ax = ReductionAxes(axes, "variance");
        int n = 1;
        foreach (int a in ax) n *= Layout.ShapeArray[a];
        if (n - (unbiased ? 1 : 0) <= 0)
            throw new ArgumentException($"variance: {n} element(s) over axes [{string.Join(", ", ax)}] of shape {Shapes.Format(ShapeSpan)} is too few{(unbiased ? " for the unbiased estimate" : "")}");
        var dev = Sub(Mean(ax, keepDim: true));
        return dev.Square().Sum(ax, keepDim).MulScalar(1.0 / (n - (unbiased ? 1 : 0)));
    }

    /// <summary>Variance over one axis.</summary>
    public Tensor Variance(int axis, bool unbiased = false, bool keepDim = false) => Variance([axis], unbiased, keepDim);
}
