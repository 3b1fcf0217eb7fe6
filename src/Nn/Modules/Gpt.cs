namespace Engine.Nn;

/// <summary>
/// A decoder-only transformer language model: token embedding (plus a learned position table when configured; RoPE,
/// ALiBi or no position signal otherwise, see <see cref="PositionEmbedding"/>),
/// pre-norm <see cref="Block"/>s, a final norm and the output head (tied to the token embedding by default).
/// Parameter names: <c>token_embedding.weight</c>, <c>position_embedding.weight</c>, <c>blocks.{i}.norm1.weight</c>,
/// <c>blocks.{i}.attn.qkv.weight</c>, <c>blocks.{i}.attn.proj.weight</c>, <c>blocks.{i}.mlp.fc.weight</c>,
/// <c>blocks.{i}.mlp.proj.weight</c>, <c>norm.weight</c>, <c>lm_head.weight</c> (untied only), plus biases.
/// Initialised like GPT-2: N(0, 0.02) weights, residual projections N(0, 0.02/√(2·layers)), zero biases, unit norms.
/// <para>
/// Threading: <see cref="Forward(Tensor, KvCache?, bool)"/> with <c>training: false</c> under <see cref="Engine.Autograd.NoGrad"/>
/// may run on many threads at once over one shared model, each thread with its own <see cref="KvCache"/>, provided
/// nothing trains it, loads weights into it or changes its mode meanwhile. Training, <see cref="Module.Train"/>,
/// <see cref="AttentionMaps"/> and <see cref="CaptureQueriesKeys"/> change shared state and need exclusive use.
/// </para>
/// </summary>
public sealed class Gpt : Module
{
    private readonly Embedding tokenEmbedding;
    private readonly Embedding? positionEmbedding;
    private readonly Dropout embeddingDropout;
    private readonly List<Block> blocks = [];
    private readonly Layer norm;
    private readonly Linear? lmHead;
    private readonly RotaryEmbedding? rope, inferenceRope;

    /// <summary>A model with seeded initialisation; <paramref name="dtype"/> float64 is for gradient checks.</summary>
    public Gpt(GptConfig config, ulong seed = 0, DType dtype = DType.Float32)
    {
        config.Validate();
        Config = config;
        var rng = new Rng(seed);
        DropoutRng = new Rng(seed ^ 0xD20F_0D20_F0D2_0F0DUL);
        tokenEmbedding = AddModule("token_embedding", new Embedding(config.VocabSize, config.ModelDim, rng, 0.02, dtype));
        if (config.PositionEmbedding == PositionEmbedding.Learned)
            positionEmbedding = AddModule("position_embedding", new Embedding(config.ContextLength, config.ModelDim, rng, 0.02, dtype));
        else if (config.PositionEmbedding == PositionEmbedding.Rope)
        {
            rope = new RotaryEmbedding(config.HeadDim, config.RopeBase);
            if (config.InferenceRopeScale != 1) inferenceRope = new RotaryEmbedding(config.HeadDim, config.RopeBase, config.InferenceRopeScale);
        }
        embeddingDropout = AddModule("dropout", new Dropout(config.Dropout, DropoutRng));
        var list = AddModule("blocks", new ModuleList());
        for (int i = 0; i < config.Layers; i++) blocks.Add(list.Add(new Block(config, rng, DropoutRng, dtype)));
        norm = AddModule("norm", MakeNorm(config, dtype));
        if (!config.TieEmbeddings) lmHead = AddModule("lm_head", new Linear(config.ModelDim, config.VocabSize, rng, bias: false, 0.02, dtype));
    }

    /// <summary>The configuration.</summary>
    public GptConfig Config { get; }

    // The parts the CPU decoder (Generation/CpuDecoder.cs) reads.
    internal Embedding TokenEmbedding => tokenEmbedding;
    internal Embedding? PositionTable => positionEmbedding;
    internal Layer FinalNorm => norm;
    internal Tensor HeadWeight => lmHead?.Weight ?? tokenEmbedding.Weight;   // [V, C]
    internal RotaryEmbedding? InferenceRope => inferenceRope ?? rope;

    /// <summary>Throws unless positions <paramref name="offset"/> … + <paramref name="count"/> − 1 fit the learned position table.</summary>
    internal void CheckLearnedPositions(int offset, int count)
    {
        if (offset + count > Config.ContextLength)
            throw new ArgumentException($"gpt: positions {offset}..{offset + count - 1} exceed the learned position table of {Config.ContextLength} (ContextLength); use RoPE to run longer sequences");
    }

    /// <summary>
    /// The names and shapes of the parameters a model of <paramref name="config"/> has, in <see cref="Module.StateDict"/>
    /// order, computed without allocating any parameter: what a checkpoint's weights file must hold before a model of
    /// that configuration is built from it.
    /// </summary>
    /// <exception cref="ArgumentException">The configuration is invalid (see <see cref="GptConfig.Validate"/>).</exception>
    public static IReadOnlyList<KeyValuePair<string, int[]>> ParameterShapes(GptConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        int c = config.ModelDim, hidden = config.MlpRatio * c;
        var list = new List<KeyValuePair<string, int[]>>();
        void Add(string name, params int[] shape) => list.Add(new(name, shape));
        void Norm(string prefix)
        {
            Add(prefix + ".weight", c);
            if (config.Norm == NormKind.LayerNorm && config.Bias) Add(prefix + ".bias", c);
        }
        void Linear(string prefix, int inFeatures, int outFeatures, bool bias)
        {
            Add(prefix + ".weight", outFeatures, inFeatures);
            if (bias) Add(prefix + ".bias", outFeatures);
        }
        Add("token_embedding.weight", config.VocabSize, c);
        if (config.PositionEmbedding == PositionEmbedding.Learned) Add("position_embedding.weight", config.ContextLength, c);
        for (int i = 0; i < config.Layers; i++)
        {
            string b = $"blocks.{i}";
            Norm(b + ".norm1");
            if (config.Attention.Kind == AttentionKind.SsMax) Add(b + ".attn.ssmax_scale", config.Heads);
            Linear(b + ".attn.qkv", c, 3 * c, config.Bias);
            Linear(b + ".attn.proj", c, c, config.Bias);
            Norm(b + ".norm2");
            Linear(b + ".mlp.fc", c, hidden, config.Bias);
            Linear(b + ".mlp.proj", hidden, c, config.Bias);
        }
        Norm("norm");
        if (!config.TieEmbeddings) Linear("lm_head", c, config.VocabSize, bias: false);
        return list;
    }

    /// <summary>The generator behind every dropout mask; save and restore its <see cref="Rng.State"/> to resume exactly.</summary>
    public Rng DropoutRng { get; }

    /// <summary>The transformer blocks.</summary>
    public IReadOnlyList<Block> Blocks => blocks;

    /// <summary>A cache for incremental decoding with this model.</summary>
    public KvCache CreateCache() => new(Config.Layers);

    internal static Layer MakeNorm(GptConfig config, DType dtype) => config.Norm == NormKind.RMSNorm
        ? new RMSNorm(config.ModelDim, config.NormEps, dtype)
        : new LayerNorm(config.ModelDim, config.Bias, config.NormEps, dtype);

    /// <summary>
    /// tokens [B, T] int32 → logits [B, T, VocabSize]. With a <paramref name="cache"/>, the tokens continue the cached
    /// sequence (their positions start at cache.Length) and the cache grows by T. A token id outside the vocabulary,
    /// or (learned positions) a position beyond ContextLength, is an error.
    /// </summary>
    public Tensor Forward(Tensor tokens, KvCache? cache = null) => Forward(tokens, cache, Training);

    /// <summary>
    /// <see cref="Forward(Tensor, KvCache?)"/> in the mode given by <paramref name="training"/> (dropout, attention
    /// and RoPE table), ignoring <see cref="Module.Training"/>. Inference passes <c>false</c> and so never switches
    /// the shared model's mode: many threads may run it at once on one model (each with its own cache).
    /// </summary>
    public Tensor Forward(Tensor tokens, KvCache? cache, bool training)
    {
        if (tokens.Rank != 2)
            throw new ArgumentException($"gpt: tokens must be [batch, time] int32, got {tokens.DType.Name()} {Shapes.Format(tokens.Shape)}");
        if (cache is not null && cache.Layers != Config.Layers)
            throw new ArgumentException($"gpt: the cache has {cache.Layers} layers, the model {Config.Layers}");
        int b = tokens.Dim(0), t = tokens.Dim(1), offset = cache?.Length ?? 0;
        if (t == 0) throw new ArgumentException($"gpt: tokens {Shapes.Format(tokens.Shape)} hold no time steps");
        var x = tokenEmbedding.Forward(tokens);                                 // [B, T, C]
        if (positionEmbedding is not null)
        {
            CheckLearnedPositions(offset, t);
            x = x.Add(positionEmbedding.Weight.Narrow(0, offset, t));
        }
        x = embeddingDropout.Forward(x, training);
        var activeRope = !training && inferenceRope is not null ? inferenceRope : rope;
        for (int i = 0; i < blocks.Count; i++) x = blocks[i].Forward(x, activeRope, cache, i, training);
        x = norm.Forward(x);
        var head = lmHead?.Weight ?? tokenEmbedding.Weight;                     // [V, C]
        var logits = x.Reshape(b * t, Config.ModelDim).MatMul(head.T).Reshape(b, t, Config.VocabSize);
        cache?.Advance(t);
        return logits;
    }

    /// <summary>
    /// The final attention weights of every layer for <paramref name="tokens"/> [B, T], each [B, H, T, T] (zero above
    /// the diagonal), from one forward pass without gradients in the model's current mode (call <see cref="Module.Eval"/>
    /// first for the inference attention and no dropout).
    /// </summary>
    public IReadOnlyList<Tensor> AttentionMaps(Tensor tokens)
    {
        CaptureQueriesKeys(true);
        try
        {
            using (new Engine.Autograd.NoGrad()) Forward(tokens);
            int t = tokens.Dim(1);
            return blocks.Select(b => b.Attention.CapturedWeights(0, t)).ToArray();
        }
        finally
        {
            CaptureQueriesKeys(false);
        }
    }

    /// <summary>Switches <see cref="CausalSelfAttention.CaptureQueriesKeys"/> on or off in every layer.</summary>
    public void CaptureQueriesKeys(bool on)
    {
        foreach (var block in blocks) block.Attention.CaptureQueriesKeys = on;
    }

    /// <summary>Mean cross-entropy of next-token prediction: Forward(inputs) against <paramref name="targets"/> [B, T].</summary>
    public Tensor Loss(Tensor inputs, Tensor targets, int? ignoreIndex = null) => Tensor.CrossEntropy(Forward(inputs), targets, ignoreIndex);
}

