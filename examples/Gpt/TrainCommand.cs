using System.ComponentModel;
using System.Globalization;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary><c>gpt train</c>: trains a model and writes checkpoints and a CSV log.</summary>
internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DATA>"), Description("'synthetic' (the embedded generated corpus) or the path of a UTF-8 text file"), DefaultValue("synthetic")]
        public string Data { get; init; } = "synthetic";

        [CommandOption("--synthetic-chars <N>"), Description("Length of the synthetic corpus in characters"), DefaultValue(1_000_000)]
        public int SyntheticChars { get; init; } = 1_000_000;

        [CommandOption("--synthetic-seed <SEED>"), Description("Seed of the synthetic corpus"), DefaultValue(1UL)]
        public ulong SyntheticSeed { get; init; } = 1;

        [CommandOption("--attention <NAME>"), Description("Attention used in training: " + AttentionNames.Names), DefaultValue("softmax")]
        public string Attention { get; init; } = "softmax";

        [CommandOption("--inference-attention <NAME>"), Description("Attention used only in evaluation and sampling (e.g. lssar for an LSSA-trained model)")]
        public string? InferenceAttention { get; init; }

        [CommandOption("--power <P>"), Description("Exponent p of the re-weighting"), DefaultValue(15.0)]
        public double Power { get; init; } = 15;

        [CommandOption("--context <T>"), Description("Training window length"), DefaultValue(64)]
        public int Context { get; init; } = 64;

        [CommandOption("--layers <N>"), Description("Transformer blocks"), DefaultValue(4)]
        public int Layers { get; init; } = 4;

        [CommandOption("--heads <N>"), Description("Attention heads per block"), DefaultValue(4)]
        public int Heads { get; init; } = 4;

        [CommandOption("--dim <N>"), Description("Model width (d_model)"), DefaultValue(128)]
        public int Dim { get; init; } = 128;

        [CommandOption("--dropout <P>"), Description("Dropout probability"), DefaultValue(0.0)]
        public double Dropout { get; init; }

        [CommandOption("--batch <B>"), Description("Windows per batch"), DefaultValue(16)]
        public int Batch { get; init; } = 16;

        [CommandOption("--steps <N>"), Description("Total optimiser steps (with --resume: the new total)"), DefaultValue(1000)]
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

        [CommandOption("--eval-interval <N>"), Description("Evaluate (and checkpoint) every N steps"), DefaultValue(100)]
        public int EvalInterval { get; init; } = 100;

        [CommandOption("--eval-tokens <N>"), Description("Validation tokens scored per evaluation"), DefaultValue(8192)]
        public int EvalTokens { get; init; } = 8192;

        [CommandOption("--seed <SEED>"), Description("Seed of the weights, dropout and batches"), DefaultValue(1UL)]
        public ulong Seed { get; init; } = 1;

        [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
        public int Threads { get; init; }

        [CommandOption("--out <DIR>"), Description("Run directory for checkpoints and log.csv"), DefaultValue("runs/gpt")]
        public string Out { get; init; } = "runs/gpt";

        [CommandOption("--resume"), Description("Continue the run in --out from its latest checkpoint (only --steps and --threads may change)")]
        public bool Resume { get; init; }

        public override ValidationResult Validate()
        {
            if (Context < 1) return ValidationResult.Error("--context must be positive");
            if (Steps < 1) return ValidationResult.Error("--steps must be positive");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        Trainer trainer;
        if (s.Resume)
        {
            trainer = Trainer.Resume(s.Out, c => c with { Steps = s.Steps, Threads = s.Threads });
            Console.WriteLine($"resuming {s.Out} at step {trainer.Step} of {trainer.Config.Steps}");
        }
        else
        {
            if (File.Exists(Path.Combine(s.Out, Engine.Nn.Checkpoints.CheckpointStore.LatestFile)))
                throw new ArgumentException($"{s.Out} already holds a run; pass --resume to continue it or choose another --out");
            var data = TextDataset.Open(s.Data, new SyntheticCorpusOptions { Seed = s.SyntheticSeed, Characters = s.SyntheticChars });
            var model = new GptConfig
            {
                ContextLength = s.Context,
                Layers = s.Layers,
                Heads = s.Heads,
                ModelDim = s.Dim,
                Dropout = s.Dropout,
                Attention = AttentionNames.Parse(s.Attention, s.Power),
                InferenceAttention = s.InferenceAttention is null ? null : AttentionNames.Parse(s.InferenceAttention, s.Power),
            };
            var config = new TrainerConfig
            {
                BatchSize = s.Batch,
                Steps = s.Steps,
                LearningRate = s.LearningRate,
                MinLearningRate = Math.Min(s.MinLearningRate, s.LearningRate),
                WarmupSteps = s.Warmup,
                WeightDecay = s.WeightDecay,
                GradClip = s.Clip,
                EvalInterval = s.EvalInterval,
                EvalTokens = s.EvalTokens,
                Seed = s.Seed,
                Threads = s.Threads,
            };
            trainer = new Trainer(model, config, data, s.Out);
        }

        var m = trainer.Model.Config;
        Console.WriteLine(
            $"data {trainer.Data.Source} ({trainer.Data.Train.Length:N0} train / {trainer.Data.Validation.Length:N0} validation tokens, vocabulary {m.VocabSize})");
        Console.WriteLine(
            $"model {m.Layers} layers, {m.Heads} heads, d_model {m.ModelDim}, context {m.ContextLength}, attention {m.Attention.Label}{(m.InferenceAttention is { } ia ? $" (inference {ia.Label})" : "")}, {trainer.Model.ParameterCount:N0} parameters");
        Console.WriteLine(
            $"training batch {trainer.Config.BatchSize}, {trainer.Config.Steps} steps, lr {trainer.Config.LearningRate:G3} → {trainer.Config.MinLearningRate:G3}, {EngineThreads.Count} threads");

        var summary = ProgressDisplay.Run(trainer, cancellation);

        var c = CultureInfo.InvariantCulture;
        if (summary.Steps < trainer.Config.Steps)
            Console.WriteLine($"interrupted at step {summary.Steps}; continue with: gpt train --out {s.Out} --resume --steps {trainer.Config.Steps}");
        Console.WriteLine(string.Format(c, "done: step {0}, train loss {1:F4}, val loss {2:F4}, {3:F1} ms/step, checkpoint {4}",
            summary.Steps, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep, summary.LastCheckpoint ?? "(none)"));
        Console.WriteLine($"log: {Path.Combine(s.Out, "log.csv")}");
        return 0;
    }
}
