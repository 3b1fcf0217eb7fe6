namespace Engine.Nn;

/// <summary>Layer normalisation over the last dim (the fused <see cref="Tensor.LayerNorm"/>): <c>weight</c> = 1 and, optionally, <c>bias</c> = 0 at init.</summary>
public sealed class LayerNorm : Layer
{
    /// <summary>A layer norm over <paramref name="dim"/> features.</summary>
    public LayerNorm(int dim, bool bias = true, double eps = 1e-5, DType dtype = DType.Float32)
    {
        Eps = eps;
        AddParameter("weight", Tensor.Ones([dim], dtype));
        if (bias) AddParameter("bias", Tensor.Zeros([dim], dtype));
        HasBias = bias;
    }

    /// <summary>The variance floor.</summary>
    public double Eps { get; }
    /// <summary>Whether the layer has a bias.</summary>
    public bool HasBias { get; }

    internal Tensor Weight => Param("weight");
    internal Tensor? Bias => HasBias ? Param("bias") : null;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.LayerNorm(Param("weight"), HasBias ? Param("bias") : null, Eps);
}

/// <summary>RMS normalisation over the last dim (the fused <see cref="Tensor.RMSNorm"/>) with a <c>weight</c> = 1 at init.</summary>
public sealed class RMSNorm : Layer
{
    /// <summary>An RMS norm over <paramref name="dim"/> features.</summary>
    public RMSNorm(int dim, double eps = 1e-5, DType dtype = DType.Float32)
    {
        Eps = eps;
        AddParameter("weight", Tensor.Ones([dim], dtype));
    }

    /// <summary>The floor added to the mean square.</summary>
    public double Eps { get; }

    internal Tensor Weight => Param("weight");

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.RMSNorm(Param("weight"), Eps);
}

