namespace Engine.Nn;

/// <summary>GELU (tanh approximation) as a layer; no parameters.</summary>
public sealed class Gelu : Layer
{
    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Gelu();
}
