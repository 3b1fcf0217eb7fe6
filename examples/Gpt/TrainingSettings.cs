using System.ComponentModel;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>The data, model and optimiser options that <c>train</c> and <c>extrapolate</c> share.</summary>
internal abstract class TrainingSettings : EngineSettings
{
    [CommandOption("--data <DATA>"), Description("'synthetic' (the embedded generated corpus) or the path of a UTF-8 text file"), DefaultValue("synthetic")]
    public string Data { get; init; } = "synthetic";

    [CommandOption("--tokenizer <KIND>"), Description("Tokens: 'char' (one per character), 'gpt2' (GPT-2 byte-level BPE, 50,257 ids) or 'gpt2-used' (GPT-2 BPE keeping only the ids the corpus uses, plus an unknown id); see docs/tokenization.md"), DefaultValue("char")]
    public string Tokenizer { get; init; } = "char";

    [CommandOption("--synthetic-chars <N>"), Description("Length of the synthetic corpus in characters"), DefaultValue(1_000_000)]
    public int SyntheticChars { get; init; } = 1_000_000;

    [CommandOption("--synthetic-seed <SEED>"), Description("Seed of the synthetic corpus"), DefaultValue(1UL)]
    public ulong SyntheticSeed { get; init; } = 1;

    [CommandOption("--power <P>"), Description("Exponent p of the re-weighting (15; 3 is the other studied value)"), DefaultValue(15.0)]
    public double Power { get; init; } = 15;

    [CommandOption("--window <W>"), Description("Keys each query sees in the 'sliding' variant (0: the training length L)"), DefaultValue(0)]
    public int Window { get; init; }

    [CommandOption("--scale-dim <D>"), Description("d_s in the length scale log(d_s)·log(n) of LSSA and sigmoid-l1 (0: the head dimension)"), DefaultValue(0)]
    public int ScaleDim { get; init; }

    [CommandOption("--positions <KIND>"), Description("Position encoding: " + AttentionNames.PositionNames), DefaultValue("rope")]
    public string Positions { get; init; } = "rope";

    [CommandOption("--rope-base <B>"), Description("RoPE frequency base"), DefaultValue(10000.0)]
    public double RopeBase { get; init; } = 10000;

    [CommandOption("--context <L>"), Description("Training window length L"), DefaultValue(64)]
    public int Context { get; init; } = 64;

    [CommandOption("--layers <N>"), Description("Transformer blocks"), DefaultValue(4)]
    public int Layers { get; init; } = 4;

    [CommandOption("--heads <N>"), Description("Attention heads per block"), DefaultValue(4)]
    public int Heads { get; init; } = 4;

    [CommandOption("--dim <N>"), Description("Model width (d_model)"), DefaultValue(128)]
    public int Dim { get; init; } = 128;

    [CommandOption("--batch <B>"), Description("Windows per training batch"), DefaultValue(16)]
    public int Batch { get; init; } = 16;

    [CommandOption("--steps <N>"), Description("Optimiser steps (train --resume: the new total; extrapolate: per variant)"), DefaultValue(1000)]
    public int Steps { get; init; } = 1000;

    [CommandOption("--lr <LR>"), Description("Peak learning rate"), DefaultValue(3e-3)]
    public double LearningRate { get; init; } = 3e-3;

    [CommandOption("--min-lr <LR>"), Description("Final learning rate of the cosine decay"), DefaultValue(3e-4)]
    public double MinLearningRate { get; init; } = 3e-4;

    [CommandOption("--warmup <N>"), Description("Linear warmup steps"), DefaultValue(50)]
    public int Warmup { get; init; } = 50;

    [CommandOption("--weight-decay <WD>"), Description("AdamW decoupled weight decay of matrices"), DefaultValue(0.1)]
    public double WeightDecay { get; init; } = 0.1;

    [CommandOption("--clip <NORM>"), Description("Global gradient-norm clip (0: off)"), DefaultValue(1.0)]
    public double Clip { get; init; } = 1.0;

    [CommandOption("--seed <SEED>"), Description("Seed of the weights, dropout and batches"), DefaultValue(1UL)]
    public ulong Seed { get; init; } = 1;


    public override ValidationResult Validate()
    {
        if (Context < 1) return ValidationResult.Error($"--context must be positive, got {Context}");
        if (Steps < 1) return ValidationResult.Error($"--steps must be positive, got {Steps}");
        if (ScaleDim is < 0 or 1) return ValidationResult.Error($"--scale-dim must be 0 (the head dimension) or at least 2, got {ScaleDim}");
        if (Window < 0) return ValidationResult.Error($"--window must be 0 (the training length) or a positive number of keys, got {Window}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) return ValidationResult.Error($"--lr must be a finite number > 0, got {Format(LearningRate)}");
        if (!(MinLearningRate >= 0) || double.IsInfinity(MinLearningRate)) return ValidationResult.Error($"--min-lr must be a finite number ≥ 0, got {Format(MinLearningRate)}");
        if (!(RopeBase > 1) || double.IsInfinity(RopeBase)) return ValidationResult.Error($"--rope-base must be a finite number > 1, got {RopeBase}");
        try
        {
            AttentionNames.ParsePositions(Positions);
            TokenizerKind();
        }
        catch (ArgumentException e) { return ValidationResult.Error(e.Message); }
        return base.Validate();
    }

    private static string Format(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The kind named by --tokenizer.</summary>
    /// <exception cref="ArgumentException">It is not char, gpt2 or gpt2-used.</exception>
    public TokenizerKind TokenizerKind() => Engine.Nn.Data.Tokenizer.ParseKind(Tokenizer, "--tokenizer");

    /// <summary>The corpus named by --data, tokenized as --tokenizer says.</summary>
    public TextDataset OpenData() => TextDataset.Open(Data, new SyntheticCorpusOptions { Seed = SyntheticSeed, Characters = SyntheticChars }, maxBytes: MaxDataBytes,
        kind: TokenizerKind());

    /// <summary>"tokenizer gpt2-used (1,234 of 50,257 GPT-2 ids + unknown)", and the unknown tokens when there are any.</summary>
    public static string DescribeTokens(TextDataset data) =>
        $"tokenizer {data.Tokenizer.Describe()}" + (data.UnknownTokens > 0 ? $", {data.UnknownTokens:N0} tokens outside the kept ids encoded as unknown" : "");

    /// <summary>The model shape and positions (attention is set by the caller).</summary>
    public GptConfig ModelConfig() => new()
    {
        ContextLength = Context, Layers = Layers, Heads = Heads, ModelDim = Dim,
        PositionEmbedding = AttentionNames.ParsePositions(Positions), RopeBase = RopeBase,
    };

    /// <summary>The sliding window of the 'sliding' variant: --window, or L when 0.</summary>
    public int SlidingWindow => Window > 0 ? Window : Context;

    /// <summary>A variant name with this command's --power and --window.</summary>
    public AttentionSpec ParseAttention(string name)
    {
        var spec = AttentionNames.Parse(name, Power, SlidingWindow);
        return ScaleDim > 0 && spec.Kind is AttentionKind.Lssa or AttentionKind.SigmoidL1 ? spec with { ScaleDim = ScaleDim } : spec;
    }

    /// <summary>The optimiser schedule and evaluation cadence.</summary>
    public TrainerConfig TrainerConfig(int evalInterval, int evalTokens) => new()
    {
        BatchSize = Batch,
        Steps = Steps,
        LearningRate = LearningRate,
        MinLearningRate = Math.Min(MinLearningRate, LearningRate),
        WarmupSteps = Math.Min(Warmup, Steps),
        WeightDecay = WeightDecay,
        GradClip = Clip,
        EvalInterval = evalInterval,
        EvalTokens = evalTokens,
        Seed = Seed,
        Threads = Threads,
        Device = Device,
        Precision = PrecisionOr(),
    };
}
