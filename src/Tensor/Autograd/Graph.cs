namespace Engine.Autograd;

/// <summary>How an op's forward records itself: <c>if (Graph.ShouldRecord(a, b)) Graph.Record(y, new MulNode(a, b), a, b);</c></summary>
public static class Graph
{
    /// <summary>True when grad mode is on and some input requires a gradient: only then is a node worth building.</summary>
    public static bool ShouldRecord(Tensor a) => a.RequiresGrad && GradMode.IsEnabled;

    /// <summary>True when grad mode is on and some input requires a gradient.</summary>
    public static bool ShouldRecord(Tensor a, Tensor b) => (a.RequiresGrad || b.RequiresGrad) && GradMode.IsEnabled;

    /// <summary>True when grad mode is on and some input requires a gradient.</summary>
    public static bool ShouldRecord(params ReadOnlySpan<Tensor> inputs)
    {
        if (!GradMode.IsEnabled) return false;
        foreach (var t in inputs) if (t.RequiresGrad) return true;
        return false;
    }

    /// <summary>Makes <paramref name="node"/> the producer of <paramref name="output"/> with the given inputs.</summary>
    public static void Record(Tensor output, Node node, params ReadOnlySpan<Tensor> inputs)
    {
        node.Attach(inputs);
        output.GradFn = node;
        output.RequiresGrad = true;
    }

    /// <summary>
    /// The common tail of an op's forward: records the node when needed, then runs the anomaly check.
    /// <paramref name="makeNode"/> is only called when a node is recorded.
    /// </summary>
    public static Tensor Output(Tensor output, string op, Func<Node> makeNode, params ReadOnlySpan<Tensor> inputs)
    {
        if (ShouldRecord(inputs)) Record(output, makeNode(), inputs);
        return AnomalyMode.Check(output, op);
    }
}
