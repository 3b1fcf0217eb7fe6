using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.Nn;

/// <summary>Which normalisation the blocks use.</summary>
public enum NormKind
{
    /// <summary>Layer norm (mean and variance; bias when <see cref="GptConfig.Bias"/>).</summary>
    LayerNorm,
    /// <summary>RMS norm (no centring, no bias).</summary>
    RMSNorm,
}

/// <summary>How the model knows token positions.</summary>
public enum PositionEmbedding
{
    /// <summary>Rotary embedding of queries and keys: no parameters, any length at inference.</summary>
    Rope,
    /// <summary>A learned absolute position table (GPT-2 style) of <see cref="GptConfig.ContextLength"/> rows; longer inputs are an error.</summary>
    Learned,
    /// <summary>No position signal at all (NoPE): order is known only through the causal mask.</summary>
    None,
    /// <summary>
    /// ALiBi (Press et al., 2022): no embedding; every attention score gets the bias −m_h·(i − j), with a fixed
    /// slope m_h per head, inside the fused attention kernel.
    /// </summary>
    Alibi,
}

/// <summary>
/// The shape of a <see cref="Gpt"/>. Serialisable with System.Text.Json (<see cref="ToJson"/>, <see cref="FromJson"/>), so
/// checkpoints can store it next to the weights.
/// </summary>
public sealed record GptConfig
{
    /// <summary>Largest accepted <see cref="VocabSize"/> (every Unicode scalar value fits).</summary>
    public const int MaxVocabSize = 1 << 21;
    /// <summary>Largest accepted <see cref="ContextLength"/>.</summary>
    public const int MaxContextLength = 1 << 24;
    /// <summary>Largest accepted <see cref="Layers"/>.</summary>
    public const int MaxLayers = 1024;
    /// <summary>Largest accepted <see cref="Heads"/>.</summary>
    public const int MaxHeads = 1024;
    /// <summary>Largest accepted <see cref="ModelDim"/>.</summary>
    public const int MaxModelDim = 1 << 16;
    /// <summary>Largest accepted <see cref="MlpRatio"/>.</summary>
    public const int MaxMlpRatio = 64;

    /// <summary>Number of token ids.</summary>
    public int VocabSize { get; init; } = 256;
    /// <summary>The training context (and the size of a learned position table).</summary>
    public int ContextLength { get; init; } = 256;
    /// <summary>Number of transformer blocks.</summary>
    public int Layers { get; init; } = 4;
    /// <summary>Attention heads per block; must divide <see cref="ModelDim"/>.</summary>
    public int Heads { get; init; } = 4;
    /// <summary>Width of the residual stream.</summary>
    public int ModelDim { get; init; } = 128;
    /// <summary>The MLP's hidden width is MlpRatio · ModelDim.</summary>
    public int MlpRatio { get; init; } = 4;
    /// <summary>Dropout probability on the embeddings and on each residual branch (training mode only).</summary>
    public double Dropout { get; init; }
    /// <summary>RoPE frequency base.</summary>
    public double RopeBase { get; init; } = 10000;
    /// <summary>
    /// RoPE position interpolation in eval mode only: positions are divided by this factor (1 = none), so a model
    /// trained at L can be run at s·L with the angles it saw in training (Chen et al., 2023). Training always uses 1.
    /// </summary>
    public double InferenceRopeScale { get; init; } = 1;
    /// <summary>The attention used in training (and at inference unless <see cref="InferenceAttention"/> is set).</summary>
    public AttentionSpec Attention { get; init; } = AttentionSpec.Softmax;
    /// <summary>
    /// An attention used only in eval mode, e.g. LSSA during training and LSSAR (re-weighted) at inference
    /// (Gao &amp; Spratling, arXiv 2501.13428); null means <see cref="Attention"/>.
    /// </summary>
    public AttentionSpec? InferenceAttention { get; init; }
    /// <summary>Layer norm or RMS norm.</summary>
    public NormKind Norm { get; init; } = NormKind.LayerNorm;
    /// <summary>Whether linear layers and layer norms have biases.</summary>
    public bool Bias { get; init; } = true;
    /// <summary>Rotary, learned absolute, ALiBi or no positions.</summary>
    public PositionEmbedding PositionEmbedding { get; init; } = PositionEmbedding.Rope;
    /// <summary>Share the token embedding with the output head (no separate <c>lm_head.weight</c>).</summary>
    public bool TieEmbeddings { get; init; } = true;
    /// <summary>The normalisation epsilon.</summary>
    public double NormEps { get; init; } = 1e-5;

    /// <summary>The attention this model computes in training (<paramref name="training"/>) or eval mode, with the position option's bias.</summary>
    public AttentionSpec AttentionFor(bool training)
    {
        var spec = !training && InferenceAttention is { } inference ? inference : Attention;
        return PositionEmbedding == PositionEmbedding.Alibi ? spec with { Alibi = true } : spec;
    }

    /// <summary>Width of one attention head.</summary>
    [JsonIgnore] public int HeadDim => Heads > 0 ? ModelDim / Heads : 0;

    /// <summary>Throws a clear error for an inconsistent configuration.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        // Upper bounds first: a configuration read from an untrusted checkpoint must fail before it allocates.
        void InRange(string name, int value, int max)
        {
            if (value <= 0 || value > max) problems.Add($"{name} must be in 1..{max}, got {value}");
        }
        InRange(nameof(VocabSize), VocabSize, MaxVocabSize);
        InRange(nameof(ContextLength), ContextLength, MaxContextLength);
        InRange(nameof(Layers), Layers, MaxLayers);
        InRange(nameof(Heads), Heads, MaxHeads);
        InRange(nameof(ModelDim), ModelDim, MaxModelDim);
        InRange(nameof(MlpRatio), MlpRatio, MaxMlpRatio);
        if (Heads > 0 && ModelDim > 0 && ModelDim % Heads != 0) problems.Add($"ModelDim ({ModelDim}) must be a positive multiple of Heads ({Heads})");
        else if (Heads > 0 && ModelDim > 0 && PositionEmbedding == PositionEmbedding.Rope && HeadDim % 2 != 0) problems.Add($"RoPE needs an even head dim, got {HeadDim} (ModelDim {ModelDim} / Heads {Heads})");
        if (problems.Count == 0)
        {
            // Each parameter is one tensor of at most int.MaxValue elements.
            long c = ModelDim, largest = Math.Max(Math.Max((long)VocabSize * c, 3 * c * c), MlpRatio * c * c);
            if (PositionEmbedding == PositionEmbedding.Learned) largest = Math.Max(largest, ContextLength * c);
            if (largest > int.MaxValue) problems.Add($"the largest parameter would have {largest} elements, more than a tensor holds ({int.MaxValue}); reduce ModelDim ({ModelDim}), VocabSize, MlpRatio or ContextLength");
        }
        if (!(Dropout >= 0 && Dropout < 1)) problems.Add($"Dropout must be in [0, 1), got {Dropout}");
        if (!(RopeBase > 1) || double.IsInfinity(RopeBase)) problems.Add($"RopeBase must be a finite number > 1, got {RopeBase}");
        if (!(InferenceRopeScale > 0) || double.IsInfinity(InferenceRopeScale)) problems.Add($"InferenceRopeScale must be a finite number > 0, got {InferenceRopeScale}");
        else if (InferenceRopeScale != 1 && PositionEmbedding != PositionEmbedding.Rope) problems.Add($"InferenceRopeScale ({InferenceRopeScale}) applies only to RoPE, but positions are {PositionEmbedding}");
        if (!(NormEps >= 0) || double.IsInfinity(NormEps)) problems.Add($"NormEps must be finite and ≥ 0, got {NormEps}");
        if (!Enum.IsDefined(PositionEmbedding)) problems.Add($"PositionEmbedding {(int)PositionEmbedding} is not one of {string.Join(", ", Enum.GetNames<PositionEmbedding>())}");
        if (!Enum.IsDefined(Norm)) problems.Add($"Norm {(int)Norm} is not one of {string.Join(", ", Enum.GetNames<NormKind>())}");
        if (Attention is null) problems.Add("Attention must be set");
        foreach (var (spec, name) in new[] { (Attention, "Attention"), (InferenceAttention, "InferenceAttention") })
        {
            if (spec is null) continue;
            if (!Enum.IsDefined(spec.Kind)) { problems.Add($"{name}: kind {(int)spec.Kind} is not one of {string.Join(", ", Enum.GetNames<AttentionKind>())}"); continue; }
            if (spec.Alibi) problems.Add($"{name} ({spec.Label}) sets ALiBi itself; choose PositionEmbedding = Alibi instead");
            if (HeadDim > 0 && ModelDim % Heads == 0)
            {
                try { spec.Family(HeadDim, name); }
                catch (ArgumentException e) { problems.Add(e.Message); }
            }
        }
        if (problems.Count > 0) throw new ArgumentException("gpt config: " + string.Join("; ", problems));
    }

    /// <summary>The configuration as indented JSON (enums as names).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, GptConfigJson.Default.GptConfig);

    /// <summary>Parses and validates a configuration written by <see cref="ToJson"/>.</summary>
    public static GptConfig FromJson(string json)
    {
        var config = JsonSerializer.Deserialize(json, GptConfigJson.Default.GptConfig)
            ?? throw new ArgumentException("gpt config: the JSON is null");
        config.Validate();
        return config;
    }
}

/// <summary>Source-generated JSON metadata for <see cref="GptConfig"/> (trimming- and AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(GptConfig))]
public sealed partial class GptConfigJson : JsonSerializerContext;
