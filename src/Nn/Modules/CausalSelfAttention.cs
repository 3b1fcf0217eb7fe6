namespace Engine.Nn;

/// <summary>
/// Multi-head causal self-attention: one fused <c>qkv</c> projection, RoPE on queries and keys (when the model uses
/// it), <see cref="Tensor.CausalAttention"/> with the configured <see cref="AttentionSpec"/> (ALiBi's bias when the
/// model's positions are ALiBi), and the output projection <c>proj</c>. In eval mode
/// <see cref="GptConfig.InferenceAttention"/> replaces the training attention when set. Trained with SSMax, the layer
/// has a learnable scale per head, <c>ssmax_scale</c> [H], initialised to 1/ln L so that SSMax starts equal to
/// Softmax at the training length. With a <see cref="KvCache"/>, new queries attend to the cached keys and values
/// (queryOffset).
/// </summary>
public sealed class CausalSelfAttention : Module
{
    private readonly GptConfig config;
    private readonly Linear qkv, proj;
    private readonly Dropout dropout;
    private readonly bool learnsSsMaxScale;
    private Tensor? fixedSsmaxScale;

    /// <summary>An attention layer for a configuration; <paramref name="projStd"/> is the output projection's init std.</summary>
    public CausalSelfAttention(GptConfig config, Rng rng, Rng dropoutRng, double projStd, DType dtype = DType.Float32)
    {
        this.config = config;
        int c = config.ModelDim;
        qkv = AddModule("qkv", new Linear(c, 3 * c, rng, config.Bias, 0.02, dtype));
        proj = AddModule("proj", new Linear(c, c, rng, config.Bias, projStd, dtype));
        dropout = AddModule("dropout", new Dropout(config.Dropout, dropoutRng));
        learnsSsMaxScale = config.Attention.Kind == AttentionKind.SsMax;
        if (learnsSsMaxScale)
            AddParameter("ssmax_scale", Tensor.Full([config.Heads], InitialSsMaxScale(config), dtype));
    }

    /// <summary>s_h at initialisation (and for SSMax used only at inference): 1/ln L, so s_h·ln n = 1 at n = L.</summary>
    public static double InitialSsMaxScale(GptConfig config) => 1 / Math.Log(Math.Max(2, config.ContextLength));

    /// <summary>The per-head query scale the active attention takes (SSMax's s_h), or null.</summary>
    private Tensor? HeadScale(AttentionSpec spec, Tensor q)
    {
        if (spec.Kind != AttentionKind.SsMax) return null;
        if (learnsSsMaxScale) return Param("ssmax_scale");
        if (fixedSsmaxScale is null || fixedSsmaxScale.DType != q.DType || fixedSsmaxScale.Device != q.Device)
            fixedSsmaxScale = Tensor.Full([config.Heads], InitialSsMaxScale(config), q.DType, q.Device);
        return fixedSsmaxScale;
    }

    /// <summary>
    /// When true, each forward also stores its final attention weights [B, H, Tq, Tk] in <see cref="LastWeights"/>
    /// (diagnostics such as attention entropy; not differentiable).
    /// </summary>
    public bool CaptureWeights { get; set; }

    /// <summary>The weights of the last forward while <see cref="CaptureWeights"/> was on; null otherwise.</summary>
    public Tensor? LastWeights { get; private set; }

    /// <summary>The attention this layer computes in its current mode.</summary>
    public AttentionSpec ActiveAttention => config.AttentionFor(Training);

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
        var spec = ActiveAttention;
        var headScale = HeadScale(spec, q);
        var y = Tensor.CausalAttention(q, k, v, spec, offset, headScale);   // [B, H, T, D]
        LastWeights = CaptureWeights ? Tensor.CausalAttentionWeights(q.Detach(), k.Detach(), spec, offset, headScale?.Detach()) : null;
        return dropout.Forward(proj.Forward(y.Transpose(1, 2).Reshape(b, t, c)));
    }
}
