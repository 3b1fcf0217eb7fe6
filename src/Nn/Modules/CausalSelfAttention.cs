namespace Engine.Nn;

/// <summary>
/// Multi-head causal self-attention: one fused <c>qkv</c> projection, RoPE on queries and keys (when the model uses
/// it), <see cref="Tensor.CausalAttention"/> with the configured <see cref="AttentionSpec"/> (ALiBi's bias when the
/// model's positions are ALiBi), and the output projection <c>proj</c>. In eval mode
/// <see cref="GptConfig.InferenceAttention"/> replaces the training attention when set. Trained with SSMax, the layer
/// has a learnable scale per head, <c>ssmax_scale</c> [H], initialised to 1/ln L so that SSMax starts equal to
/// Softmax at the training length. With a <see cref="KvCache"/>, new queries attend to the cached keys and values
/// (queryOffset).
/// <para>
/// Threading: forwards may run concurrently on one instance (each with its own cache) as long as no thread changes
/// the parameters or the mode; <see cref="CaptureQueriesKeys"/> and <see cref="CapturedWeights"/> keep per-instance
/// state and are for single-threaded diagnostics only.
/// </para>
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

    internal Linear Qkv => qkv;
    internal Linear Proj => proj;

    /// <summary>The per-head query scale the active attention takes (SSMax's s_h), or null.</summary>
    private Tensor? HeadScale(AttentionSpec spec, Tensor q) => HeadScale(spec, q.DType, q.Device);

    /// <summary>The per-head query scale <paramref name="spec"/> takes for queries of this dtype and device, or null.</summary>
    internal Tensor? HeadScale(AttentionSpec spec, DType dtype, Device device)
    {
        if (spec.Kind != AttentionKind.SsMax) return null;
        if (learnsSsMaxScale) return Param("ssmax_scale");
        // Read once: another thread may replace the cached tensor (with an equal one) meanwhile.
        var scale = fixedSsmaxScale;
        if (scale is null || scale.DType != dtype || scale.Device != device)
            using (StorageScope.Suspend()) fixedSsmaxScale = scale = Tensor.Full([config.Heads], InitialSsMaxScale(config), dtype, device);
        return scale;
    }

    // Diagnostics capture: the last forward's final q and k, its query offset and attention.
    private bool capture;
    private Tensor? capturedQ, capturedK;
    private int capturedOffset;
    private AttentionSpec? capturedSpec;
    private Tensor? capturedScale;

    /// <summary>
    /// When true, each forward keeps its final (detached) queries and keys, so that <see cref="CapturedWeights"/> can
    /// recompute the attention weights of any rows afterwards (diagnostics such as entropy; not differentiable).
    /// Switching it off drops what was kept.
    /// </summary>
    public bool CaptureQueriesKeys
    {
        get => capture;
        set { capture = value; if (!value) capturedQ = capturedK = null; }
    }

    /// <summary>Query rows kept by the last forward under <see cref="CaptureQueriesKeys"/> (0 when nothing is kept).</summary>
    public int CapturedQueries => capturedQ?.Dim(2) ?? 0;

    /// <summary>Cached positions before the first kept query (the KV-cache length of that forward; 0 without a cache).</summary>
    public int CapturedQueryOffset => capturedOffset;

    /// <summary>
    /// The attention weights of the kept query rows <paramref name="rowStart"/> … <paramref name="rowStart"/> +
    /// <paramref name="rows"/> − 1 of the last captured forward: [B, H, rows, offset + rowStart + rows], where row i
    /// sees keys 0 … offset + rowStart + i (later keys would be zero, so they are left out), under the attention that
    /// forward used.
    /// </summary>
    /// <exception cref="InvalidOperationException">Nothing was captured.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The rows are not inside the captured queries.</exception>
    public Tensor CapturedWeights(int rowStart, int rows)
    {
        if (capturedQ is null || capturedK is null)
            throw new InvalidOperationException("attention: no queries and keys captured; set CaptureQueriesKeys and run a forward first");
        int t = capturedQ.Dim(2);
        if (rowStart < 0 || rows < 1 || rowStart > t - rows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"attention: rows {rowStart}..{rowStart + rows - 1} are outside the {t} captured queries");
        int queryOffset = capturedOffset + rowStart;
        return Tensor.CausalAttentionWeights(capturedQ.Narrow(2, rowStart, rows), capturedK.Narrow(2, 0, queryOffset + rows), capturedSpec!, queryOffset, capturedScale);
    }

    /// <summary>The attention this layer computes in its current mode.</summary>
    public AttentionSpec ActiveAttention => config.AttentionFor(Training);

    /// <summary>
    /// x [B, T, C] → [B, T, C]. <paramref name="rope"/> rotates q and k (null with learned positions);
    /// <paramref name="cache"/> and <paramref name="layer"/> select this layer's cached keys and values.
    /// </summary>
    public Tensor Forward(Tensor x, RotaryEmbedding? rope, KvCache? cache = null, int layer = 0) => Forward(x, rope, cache, layer, Training);

    /// <summary>
    /// The forward in training or eval mode as given by <paramref name="training"/> (attention choice and dropout),
    /// ignoring <see cref="Module.Training"/>, so concurrent inference needs no mode switch.
    /// </summary>
    public Tensor Forward(Tensor x, RotaryEmbedding? rope, KvCache? cache, int layer, bool training)
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
        var spec = config.AttentionFor(training);
        var headScale = HeadScale(spec, q);
        var y = Tensor.CausalAttention(q, k, v, spec, offset, headScale);   // [B, H, T, D]
        if (capture) (capturedQ, capturedK, capturedOffset, capturedSpec, capturedScale) = (q.Detach(), k.Detach(), offset, spec, headScale?.Detach());
        return dropout.Forward(proj.Forward(y.Transpose(1, 2).Reshape(b, t, c)), training);
    }
}
