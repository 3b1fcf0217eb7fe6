using System.ComponentModel;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>The options every command shares: the CPU thread count, applied once by <see cref="EngineSettingsInterceptor"/>.</summary>
internal abstract class EngineSettings : CommandSettings
{
    [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
    public int Threads { get; init; }

    public override ValidationResult Validate() =>
        Threads < 0 ? ValidationResult.Error($"--threads must be 0 (all cores) or positive, got {Threads}") : ValidationResult.Success();
}

/// <summary>Applies <see cref="EngineSettings"/> before any command runs, so no command sets the thread count itself.</summary>
internal sealed class EngineSettingsInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is EngineSettings { Threads: > 0 } s) EngineThreads.Count = s.Threads;
    }
}
