using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>The options every command shares: the CPU thread count and the device (applied once by <see cref="EngineSettingsInterceptor"/>) and the corpus size limit.</summary>
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
        return ValidationResult.Success();
    }
}

/// <summary>Applies <see cref="EngineSettings"/> before any command runs, so no command sets the thread count or resolves the device itself.</summary>
internal sealed class EngineSettingsInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is not EngineSettings s) return;
        if (s.Threads > 0) EngineThreads.Count = s.Threads;
        s.Device = DeviceOption.Resolve(s.DeviceName);
    }
}
