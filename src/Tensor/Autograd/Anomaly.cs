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

    // Set while a node's backward runs: the ops it calls are checked as part of that node's backward, so an Inf made
    // by the Div inside sqrt's backward is reported as "sqrt backward", not as a forward "div".
    private static readonly AsyncLocal<int> InBackward = new();

    /// <summary>Runs a node's backward with forward checks of the ops inside it deferred to the engine's check of its result.</summary>
    internal static Tensor?[] RunBackward(Node node, Tensor g)
    {
        if (!On.Value) return node.Backward(g);
        InBackward.Value++;
        try { return node.Backward(g); }
        finally { InBackward.Value--; }
    }

    /// <summary>Throws <see cref="AnomalyException"/> when enabled and <paramref name="t"/> holds a NaN or Inf.</summary>
    internal static Tensor Check(Tensor t, string op, string pass = "forward")
    {
        if (!On.Value || !t.DType.IsFloat()) return t;
        if (pass == "forward" && InBackward.Value > 0) return t;
        var values = t.ToDoubleArray();
        for (int i = 0; i < values.Length; i++)
            if (!double.IsFinite(values[i]))
                throw new AnomalyException($"anomaly: {op} {pass} produced {values[i]} at flat index {i} of a tensor of shape {Shapes.Format(t.ShapeSpan)}");
        return t;
    }
}

/// <summary>A NaN or Inf found by <see cref="AnomalyMode"/>.</summary>
public sealed class AnomalyException(string message) : Exception(message);
