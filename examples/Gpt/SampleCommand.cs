using System.ComponentModel;
using Engine.Nn;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary><c>gpt sample</c>: generates text from a checkpoint.</summary>
internal sealed class SampleCommand : Command<SampleCommand.Settings>
{
    public sealed class Settings : EngineSettings
    {
        [CommandOption("--checkpoint <DIR>"), Description("A run directory (its latest checkpoint) or a checkpoint directory")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--rope-scale <S>"), Description("RoPE position interpolation at evaluation: positions divided by S (1: none; RoPE models only)"), DefaultValue(1.0)]
        public double RopeScale { get; init; } = 1;

        [CommandOption("--prompt <TEXT>"), Description("Text to continue (with the char tokenizer every character must be in the model's vocabulary)"), DefaultValue("\n")]
        public string Prompt { get; init; } = "\n";

        [CommandOption("--tokens <N>"), Description("Tokens to generate (characters with the char tokenizer)"), DefaultValue(300)]
        public int Tokens { get; init; } = 300;

        [CommandOption("--temperature <T>"), Description("Softmax temperature (0: greedy)"), DefaultValue(0.8)]
        public double Temperature { get; init; } = 0.8;

        [CommandOption("--top-k <K>"), Description("Sample only among the K most likely tokens")]
        public int? TopK { get; init; }

        [CommandOption("--seed <SEED>"), Description("Seed of the sampler"), DefaultValue(0UL)]
        public ulong Seed { get; init; }

        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Checkpoint)) return ValidationResult.Error("--checkpoint is required");
            if (Tokens < 0) return ValidationResult.Error($"--tokens must not be negative, got {Tokens}");
            if (!(Temperature >= 0) || double.IsInfinity(Temperature))
                return ValidationResult.Error($"--temperature must be a finite number ≥ 0 (0: greedy), got {Temperature.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            if (TopK is < 1) return ValidationResult.Error($"--top-k must be positive, got {TopK}");
            return string.IsNullOrEmpty(Prompt) ? ValidationResult.Error("--prompt must not be empty") : base.Validate();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var loaded = GptCheckpoint.Load(s.Checkpoint, AttentionNames.ForEvaluation(null, 15, s.RopeScale), s.Device);
        var prompt = loaded.Tokenizer.Encode(s.Prompt);
        var generated = TextGenerator.Generate(loaded.Model, prompt, s.Tokens, new SamplingOptions(s.Temperature, s.TopK, s.Seed));
        // Plain output so that it can be piped; the prompt is echoed dimmed on a terminal.
        if (Console.IsOutputRedirected) Console.Write(s.Prompt);
        else AnsiConsole.Markup($"[dim]{Markup.Escape(s.Prompt)}[/]");
        Console.WriteLine(loaded.Tokenizer.Decode(generated));
        return 0;
    }
}
