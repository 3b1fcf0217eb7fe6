namespace Engine.Autograd;

/// <summary>
/// Anomaly detection: when enabled, any NaN or Inf produced by an op's forward or backward throws at once,
/// naming the op, instead of surfacing steps later as a NaN loss. Costs a scan of every result; off by default.
/// Like <see cref="GradMode"/> it follows the logical flow of control.
/// </summary>
public static class AnomalyMode
{
    private static readonly AsyncLocal<bool> On = new();

    /// <summary>Whether results are checked.</summary>
    public static bool IsEnabled { get => On.Value; set => On.Value = value; }

    /// <summary>Throws <see cref="AnomalyException"/> when enabled and <paramref name="t"/> holds a NaN or Inf.</summary>
    internal static Tensor Check(Tensor t, string op, string pass = "forward")
    {
        if (!On.Value || !t.DType.IsFloat()) return t;
        var values = t.ToDoubleArray();
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]))
                throw new AnomalyException($"anomaly: {op} {pass} produced {values[i]} at flat index {i} of a tensor of shape {Shapes.Format(t.ShapeSpan)}");
        return t;
    }
}

/// <summary>A NaN or Inf found by <see cref="AnomalyMode"/>.</summary>
public sealed class AnomalyException(string message) : Exception(message);
