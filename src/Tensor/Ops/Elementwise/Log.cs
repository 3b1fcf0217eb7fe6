using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Natural log elementwise.</summary>
    public Tensor Log()
    {
        var y = UnaryRaw(UnaryOp.Log, "log");
        return Graph.Output(y, "log", () => new LogNode(), this);
    }
}

/// <summary>d ln x/dx = 1/x.</summary>
internal sealed class LogNode : Node
{
    public override string Name => "log";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Div(Input(0))];
}
