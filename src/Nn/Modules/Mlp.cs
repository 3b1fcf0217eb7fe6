namespace Engine.Nn;

/// <summary>The transformer feed-forward block: <c>fc</c> (dim → ratio·dim), GELU, <c>proj</c> (back to dim), dropout.</summary>
public sealed class Mlp : Layer
{
    private readonly Linear fc, proj;
    private readonly Gelu act = new();
    private readonly Dropout dropout;

    /// <summary>An MLP; <paramref name="projStd"/> is the init std of the output projection (scaled down for residual paths).</summary>
    public Mlp(int dim, int hidden, bool bias, double dropoutP, Rng rng, Rng dropoutRng, double std = 0.02, double projStd = 0.02, DType dtype = DType.Float32)
    {
        fc = AddModule("fc", new Linear(dim, hidden, rng, bias, std, dtype));
        proj = AddModule("proj", new Linear(hidden, dim, rng, bias, projStd, dtype));
        dropout = new Dropout(dropoutP, dropoutRng);
        AddModule("dropout", dropout);
    }

    internal Linear Fc => fc;
    internal Linear Proj => proj;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, Training);

    /// <summary>The block in training or eval mode as given (dropout only in training), ignoring <see cref="Module.Training"/>.</summary>
    public Tensor Forward(Tensor input, bool training) => dropout.Forward(proj.Forward(act.Forward(fc.Forward(input))), training);
}
