namespace Engine.Autograd;

/// <summary>
/// One recorded op in the autograd graph. Each differentiable op is a small subclass living in the same file as
/// its forward (src/Tensor/Ops/), holding what its backward needs and nothing more.
/// </summary>
public abstract class Node
{
    private Tensor[] inputs = [];
    private int[][] inputShapes = [];
    private Tensor[] saved;

    /// <summary>Creates a node that keeps <paramref name="saved"/> alive until backward has used it.</summary>
    protected Node(params Tensor[] saved) => this.saved = saved;

    /// <summary>A tensor saved by the forward for the backward (index in constructor order).</summary>
    protected Tensor Saved(int i) => saved[i];

    /// <summary>Input <paramref name="i"/> of the op.</summary>
    protected Tensor Input(int i) => inputs[i];

    /// <summary>Short op name used in messages ("matmul", "softplus").</summary>
    public abstract string Name { get; }

    /// <summary>The tensors this op read; gradients flow back to those that require them.</summary>
    public IReadOnlyList<Tensor> Inputs => inputs;

    /// <summary>True after a backward pass freed this node's saved tensors.</summary>
    public bool IsReleased { get; private set; }

    internal void Attach(ReadOnlySpan<Tensor> ins)
    {
        inputs = ins.ToArray();
        inputShapes = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++) inputShapes[i] = inputs[i].Shape;
    }

    internal int[] InputShape(int i) => inputShapes[i];

    /// <summary>
    /// Given the gradient of the loss with respect to this op's output, returns the gradient with respect to each
    /// input (in <see cref="Inputs"/> order; null where no gradient is needed). A gradient may have the broadcast
    /// output shape: the engine sums it back to the input's shape in one place.
    /// Runs with gradient recording off.
    /// </summary>
    protected internal abstract Tensor?[] Backward(Tensor gradOutput);

    /// <summary>Whether input <paramref name="i"/> needs a gradient (lets backward skip work).</summary>
    protected bool NeedsGrad(int i) => inputs[i].RequiresGrad;

    /// <summary>Drops saved tensors and inputs so intermediates can be collected; called after backward unless the graph is retained.</summary>
    internal void Release()
    {
        saved = [];
        inputs = [];
        IsReleased = true;
    }

    /// <inheritdoc/>
    public override string ToString() => Name;
}
