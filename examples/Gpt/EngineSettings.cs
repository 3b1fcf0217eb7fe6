using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// The options every command shares: the CPU thread count, the device and the matmul precision (applied once by
/// <see cref="EngineSettingsInterceptor"/>) and the corpus size limit.
/// </summary>
internal abstract class EngineSettings : CommandSettings
{
    [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
    public int Threads { get; init; }

    [CommandOption("--device <DEVICE>"), Description("Where the model runs: cpu, cuda (GPU 0) or cuda:N (docs/cuda.md)"), DefaultValue("cpu")]
    public string DeviceName { get; init; } = "cpu";

    /// <summary>The device of --device, resolved (and its backend registered) by <see cref="EngineSettingsInterceptor"/> before the command runs.</summary>
    internal Device Device { get; set; } = Device.Cpu;

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
        if (DeviceOption.SyntaxError(DeviceName) is { } device) return ValidationResult.Error(device);
        if (MaxDataMegabytes < 1) return ValidationResult.Error($"--max-data-mb must be a positive number of MiB, got {MaxDataMegabytes}");
        if (PrecisionName is not null && !Precisions.TryParse(PrecisionName, out _)) return ValidationResult.Error($"--precision must be {Precisions.Choices}, got '{PrecisionName}'");
        return ValidationResult.Success();
    }
}

/// <summary>
/// Applies <see cref="EngineSettings"/> before any command runs, so no command sets the thread count or resolves the
/// device itself. A given --precision opens an <see cref="Autocast"/> scope for the rest of the command (evaluation,
/// sampling, diagnostics); training follows its <see cref="Engine.Nn.Training.TrainerConfig.Precision"/>, which the
/// training commands set from it. <see cref="GptApp.Run"/> restores the caller's scope afterwards.
/// </summary>
internal sealed class EngineSettingsInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is not EngineSettings s) return;
        if (s.Threads > 0) EngineThreads.Count = s.Threads;
        s.Device = DeviceOption.Resolve(s.DeviceName);
        if (s.PrecisionName is not null) _ = Autocast.Enter(s.PrecisionOr());
    }
}
