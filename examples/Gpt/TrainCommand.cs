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
    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--attention <NAME>"), Description("Attention used in training: " + AttentionNames.Names), DefaultValue("softmax")]
        public string Attention { get; init; } = "softmax";

        [CommandOption("--inference-attention <NAME>"), Description("Attention used only in evaluation and sampling (e.g. lssar for an LSSA-trained model)")]
        public string? InferenceAttention { get; init; }

        [CommandOption("--dropout <P>"), Description("Dropout probability"), DefaultValue(0.0)]
        public double Dropout { get; init; }

        [CommandOption("--eval-interval <N>"), Description("Evaluate (and checkpoint) every N steps"), DefaultValue(100)]
        public int EvalInterval { get; init; } = 100;

        [CommandOption("--eval-tokens <N>"), Description("Validation tokens scored per evaluation"), DefaultValue(8192)]
        public int EvalTokens { get; init; } = 8192;

        [CommandOption("--out <DIR>"), Description("Run directory for checkpoints and log.csv"), DefaultValue("runs/gpt")]
        public string Out { get; init; } = "runs/gpt";

        [CommandOption("--resume"), Description("Continue the run in --out from its latest checkpoint (only --steps, --threads, --device and --max-data-mb may change; other options, --tokenizer included, must agree with the checkpoint)")]
        public bool Resume { get; init; }

        public override ValidationResult Validate() => NotAFile("--out", Out) ?? base.Validate();
    }

    /// <summary>"cpu, 4 threads" or "cuda:0".</summary>
    internal static string DeviceLabel(Device device) => device.Kind == DeviceKind.Cpu ? $"cpu, {EngineThreads.Count} threads" : device.ToString();

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        Trainer trainer;
        if (s.Resume)
        {
            var data = ResumeOptions.Check(s, ResumeOptions.Given(context.Arguments), Engine.Nn.Checkpoints.Checkpoint.Open(s.Out));
            trainer = Trainer.Resume(s.Out, c => c with { Steps = s.Steps, Threads = s.Threads, Device = s.Device, Precision = s.PrecisionOr(c.Precision) }, data, maxDataBytes: s.MaxDataBytes);
            Console.WriteLine($"resuming {s.Out} at step {trainer.Step} of {trainer.Config.Steps}");
        }
        else
        {
            if (File.Exists(Path.Combine(s.Out, Engine.Nn.Checkpoints.CheckpointStore.LatestFile)))
                throw new ArgumentException($"{s.Out} already holds a run; pass --resume to continue it or choose another --out");
            var data = s.OpenData();
            var model = s.ModelConfig() with
            {
                Dropout = s.Dropout,
                Attention = s.ParseAttention(s.Attention),
                InferenceAttention = s.InferenceAttention is null ? null : s.ParseAttention(s.InferenceAttention),
            };
            var config = s.TrainerConfig(s.EvalInterval, s.EvalTokens);
            trainer = new Trainer(model, config, data, s.Out);
        }

        var m = trainer.Model.Config;
        Console.WriteLine(
            $"data {trainer.Data.Source} ({trainer.Data.Train.Length:N0} train / {trainer.Data.Validation.Length:N0} validation tokens, vocabulary {m.VocabSize}; {TrainingSettings.DescribeTokens(trainer.Data)})");
        Console.WriteLine(
            $"model {m.Layers} layers, {m.Heads} heads, d_model {m.ModelDim}, context {m.ContextLength}, attention {m.Attention.Label}{(m.InferenceAttention is { } ia ? $" (inference {ia.Label})" : "")}, {trainer.Model.ParameterCount:N0} parameters");
        Console.WriteLine(
            $"training batch {trainer.Config.BatchSize}, {trainer.Config.Steps} steps, lr {trainer.Config.LearningRate:G3} → {trainer.Config.MinLearningRate:G3}, {DeviceLabel(trainer.Config.Device)}");

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
