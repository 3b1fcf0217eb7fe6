namespace Engine.Nn;

/// <summary>A pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)).</summary>
public sealed class Block : Module
{
    private readonly Layer norm1, norm2;
    private readonly CausalSelfAttention attn;
    private readonly Mlp mlp;

    /// <summary>A block for a configuration; residual output projections start with a smaller std.</summary>
    public Block(GptConfig config, Rng rng, Rng dropoutRng, DType dtype = DType.Float32)
    {
        double residualStd = 0.02 / Math.Sqrt(2.0 * config.Layers);
        norm1 = AddModule("norm1", Gpt.MakeNorm(config, dtype));
        attn = AddModule("attn", new CausalSelfAttention(config, rng, dropoutRng, residualStd, dtype));
        norm2 = AddModule("norm2", Gpt.MakeNorm(config, dtype));
        mlp = AddModule("mlp", new Mlp(config.ModelDim, config.MlpRatio * config.ModelDim, config.Bias, config.Dropout, rng, dropoutRng, 0.02, residualStd, dtype));
    }

    /// <summary>The attention sub-layer.</summary>
    public CausalSelfAttention Attention => attn;

    internal Layer Norm1 => norm1;
    internal Layer Norm2 => norm2;
    internal Mlp Mlp => mlp;

    /// <summary>x [B, T, C] → [B, T, C].</summary>
    public Tensor Forward(Tensor x, RotaryEmbedding? rope, KvCache? cache = null, int layer = 0) => Forward(x, rope, cache, layer, Training);

    /// <summary>x [B, T, C] → [B, T, C] in the mode given by <paramref name="training"/>, ignoring <see cref="Module.Training"/>.</summary>
    public Tensor Forward(Tensor x, RotaryEmbedding? rope, KvCache? cache, int layer, bool training)
    {
        x = x.Add(attn.Forward(norm1.Forward(x), rope, cache, layer, training));
        return x.Add(mlp.Forward(norm2.Forward(x), training));
    }
}
