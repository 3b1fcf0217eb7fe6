using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// The same elements in a new shape (one dim may be −1 to infer it). A view when the strides allow it,
    /// otherwise a contiguous copy.
    /// </summary>
    public Tensor Reshape(params int[] shape)
    {
        var target = InferShape(shape, "reshape");
        var view = Layout.TryReshape(target);
        var y = view is not null ? new Tensor(Storage, view) : new Tensor(Backend.Contiguous(Storage, Layout), target);
        return Graph.Output(y, "reshape", () => new ReshapeNode(), this);
    }

    /// <summary>A view in a new shape; throws when the layout would need a copy (use Reshape then).</summary>
    public Tensor View(params int[] shape)
    {
        var target = InferShape(shape, "view");
        var view = Layout.TryReshape(target)
            ?? throw new InvalidOperationException($"view: a tensor with {Layout} cannot be viewed as {Shapes.Format(target)} without a copy; call Reshape or Contiguous first");
        return Graph.Output(new Tensor(Storage, view), "view", () => new ReshapeNode(), this);
    }

    /// <summary>All dims merged into one.</summary>
    public Tensor Flatten() => Reshape(-1);

    private int[] InferShape(int[] shape, string op)
    {
        int infer = -1; long known = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == -1)
            {
                if (infer >= 0) throw new ArgumentException($"{op}: only one dimension can be -1, got {Shapes.Format(shape)}");
                infer = i;
            }
            else if (shape[i] < 0) throw new ArgumentException($"{op}: invalid dimension {shape[i]} in {Shapes.Format(shape)}");
            else known *= shape[i];
        }
        var result = (int[])shape.Clone();
        if (infer >= 0)
        {
            if (known == 0 || Count % known != 0)
                throw new ArgumentException($"{op}: cannot infer the -1 in {Shapes.Format(shape)} for a tensor of shape {Shapes.Format(ShapeSpan)} ({Count} elements)");
            result[infer] = (int)(Count / known);
        }
        else if (known != Count)
            throw new ArgumentException($"{op}: shape {Shapes.Format(shape)} has {known} elements but the tensor of shape {Shapes.Format(ShapeSpan)} has {Count}");
        return result;
    }
}

/// <summary>Reshaping moves no values: the gradient is reshaped back.</summary>
internal sealed class ReshapeNode : Node
{
    public override string Name => "reshape";
    protected internal override Tensor?[] Backward(Tensor g) => [g.Reshape(Input(0).Shape)];
}
