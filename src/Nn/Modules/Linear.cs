namespace Engine.Nn;

/// <summary>
/// y = x·Wᵀ + b over the last dim, with W stored [out, in] as in PyTorch (so checkpoint names and shapes look
/// familiar): parameters <c>weight</c> [out, in] and, when enabled, <c>bias</c> [out].
/// </summary>
public sealed class Linear : Layer
{
    /// <summary>A layer with weights drawn from N(0, <paramref name="std"/>²) and a zero bias.</summary>
    public Linear(int inFeatures, int outFeatures, Rng rng, bool bias = true, double std = 0.02, DType dtype = DType.Float32)
    {
        if (inFeatures <= 0 || outFeatures <= 0)
            throw new ArgumentException($"linear: feature counts must be positive, got in {inFeatures}, out {outFeatures}");
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        AddParameter("weight", Tensor.RandN([outFeatures, inFeatures], rng, dtype, 0, std));
        if (bias) AddParameter("bias", Tensor.Zeros([outFeatures], dtype));
        HasBias = bias;
    }

    /// <summary>Input features.</summary>
    public int InFeatures { get; }
    /// <summary>Output features.</summary>
    public int OutFeatures { get; }
    /// <summary>Whether the layer adds a bias.</summary>
    public bool HasBias { get; }
    /// <summary>The weight [out, in].</summary>
    public Tensor Weight => Param("weight");
    /// <summary>The bias [out], or null.</summary>
    public Tensor? Bias => HasBias ? Param("bias") : null;

    /// <summary>x [..., in] → [..., out].</summary>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank == 0 || input.Dim(-1) != InFeatures)
            throw new ArgumentException($"linear: input {Shapes.Format(input.Shape)} must end in {InFeatures} features");
        int[] outShape = [.. input.Shape[..^1], OutFeatures];
        var x = input.Reshape(-1, InFeatures);
        var y = Bias is { } b ? x.MatMulBias(Weight.T, b) : x.MatMul(Weight.T);
        return y.Reshape(outShape);
    }
}
