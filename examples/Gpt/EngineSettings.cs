using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// The options every command shares: the CPU thread count and the matmul precision (applied once by
/// <see cref="EngineSettingsInterceptor"/>) and the corpus size limit.
/// </summary>
internal abstract class EngineSettings : CommandSettings
{
    [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
    public int Threads { get; init; }

    [CommandOption("--max-data-mb <MB>"), Description("Largest corpus file read, in MiB (a guard against a device or a wrong path)"), DefaultValue(256)]
    public int MaxDataMegabytes { get; init; } = 256;

    [CommandOption("--precision <P>"), Description("Matrix products: fp32, tf32 (CUDA TF32 tensor cores; fp32 on the CPU) or bf16 (bfloat16 autocast with float32 weights; an exact emulation on the CPU, not faster). Default fp32; on --resume the run's own")]
    public string? PrecisionName { get; init; }

    /// <summary>The precision --precision names, or <paramref name="fallback"/> when it is not given.</summary>
    public Precision PrecisionOr(Precision fallback = Precision.Float32) =>
        PrecisionName is null ? fallback : Precisions.TryParse(PrecisionName, out var p) ? p : throw new ArgumentException($"--precision must be {Precisions.Choices}, got '{PrecisionName}'");

    /// <summary>--max-data-mb in bytes.</summary>
    public long MaxDataBytes => (long)MaxDataMegabytes << 20;

    /// <summary>An error when <paramref name="path"/>, given to <paramref name="option"/>, names an existing file rather than a directory.</summary>
    protected static ValidationResult? NotAFile(string option, string path) =>
        File.Exists(path) ? ValidationResult.Error($"{option} '{path}' is a file; it must name a directory (created when missing)") : null;

    public override ValidationResult Validate()
    {
        if (Threads < 0) return ValidationResult.Error($"--threads must be 0 (all cores) or positive, got {Threads}");
        if (MaxDataMegabytes < 1) return ValidationResult.Error($"--max-data-mb must be a positive number of MiB, got {MaxDataMegabytes}");
        if (PrecisionName is not null && !Precisions.TryParse(PrecisionName, out _)) return ValidationResult.Error($"--precision must be {Precisions.Choices}, got '{PrecisionName}'");
        return ValidationResult.Success();
    }
}

/// <summary>
/// Applies <see cref="EngineSettings"/> before any command runs, so no command sets the thread count itself. A given
/// --precision opens an <see cref="Autocast"/> scope for the rest of the command (evaluation, sampling, diagnostics);
/// training follows its <see cref="Engine.Nn.Training.TrainerConfig.Precision"/>, which the training commands set from it.
/// <see cref="GptApp.Run"/> restores the caller's scope afterwards.
/// </summary>
internal sealed class EngineSettingsInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is EngineSettings { Threads: > 0 } s) EngineThreads.Count = s.Threads;
        if (settings is EngineSettings { PrecisionName: not null } p) _ = Autocast.Enter(p.PrecisionOr());
    }
}
