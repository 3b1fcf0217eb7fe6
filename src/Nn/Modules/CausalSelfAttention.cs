namespace Engine.Nn;

/// <summary>
/// Multi-head causal self-attention: one fused <c>qkv</c> projection, RoPE on queries and keys (when the model uses
/// it), <see cref="Tensor.CausalAttention"/> with the configured <see cref="AttentionSpec"/>, and the output
/// projection <c>proj</c>. In eval mode <see cref="GptConfig.InferenceAttention"/> replaces the training attention
/// when set. With a <see cref="KvCache"/>, new queries attend to the cached keys and values (queryOffset).
/// </summary>
public sealed class CausalSelfAttention : Module
{
    private readonly GptConfig config;
    private readonly Linear qkv, proj;
    private readonly Dropout dropout;

    /// <summary>An attention layer for a configuration; <paramref name="projStd"/> is the output projection's init std.</summary>
    public CausalSelfAttention(GptConfig config, Rng rng, Rng dropoutRng, double projStd, DType dtype = DType.Float32)
    {
        this.config = config;
        int c = config.ModelDim;
        qkv = AddModule("qkv", new Linear(c, 3 * c, rng, config.Bias, 0.02, dtype));
        proj = AddModule("proj", new Linear(c, c, rng, config.Bias, projStd, dtype));
        dropout = AddModule("dropout", new Dropout(config.Dropout, dropoutRng));
    }

    /// <summary>
    /// When true, each forward also stores its final attention weights [B, H, Tq, Tk] in <see cref="LastWeights"/>
    /// (diagnostics such as attention entropy; not differentiable).
    /// </summary>
    public bool CaptureWeights { get; set; }

    /// <summary>The weights of the last forward while <see cref="CaptureWeights"/> was on; null otherwise.</summary>
    public Tensor? LastWeights { get; private set; }

    /// <summary>The attention this layer computes in its current mode.</summary>
    public AttentionSpec ActiveAttention => !Training && config.InferenceAttention is { } inference ? inference : config.Attention;

    /// <summary>
    /// x [B, T, C] → [B, T, C]. <paramref name="rope"/> rotates q and k (null with learned positions);
    /// <paramref name="cache"/> and <paramref name="layer"/> select this layer's cached keys and values.
    /// </summary>
    public Tensor Forward(Tensor x, RotaryEmbedding? rope, KvCache? cache = null, int layer = 0)
    {
        int b = x.Dim(0), t = x.Dim(1), c = config.ModelDim, h = config.Heads, d = c / h;
        int offset = cache?.Length ?? 0;
        // [B, T, 3C] → [3, B, H, T, D]
        var parts = qkv.Forward(x).Reshape(b, t, 3, h, d).Permute(2, 0, 3, 1, 4);
        Tensor q = parts.Select(0, 0), k = parts.Select(0, 1), v = parts.Select(0, 2);
        if (rope is not null)
        {
            q = rope.Forward(q, offset);
            k = rope.Forward(k, offset);
        }
        if (cache is not null) (k, v) = cache.Append(layer, k, v);
        var y = Tensor.CausalAttention(q, k, v, ActiveAttention, offset);   // [B, H, T, D]
        LastWeights = CaptureWeights ? Tensor.CausalAttentionWeights(q.Detach(), k.Detach(), ActiveAttention, offset) : null;
        return dropout.Forward(proj.Forward(y.Transpose(1, 2).Reshape(b, t, c)));
    }
}
