using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>The <c>gpt</c> command-line application, built here so that tests can run it in-process.</summary>
public static class GptApp
{
    /// <summary>The configured application; <paramref name="console"/> receives help and Spectre output (the terminal by default).</summary>
    public static CommandApp Create(IAnsiConsole? console = null)
    {
        var app = new CommandApp();
        app.Configure(config =>
        {
            if (console is not null) config.ConfigureConsole(console);
            config.SetApplicationName("gpt");
            config.SetHelpProvider(new GptHelpProvider(config.Settings));
            config.SetInterceptor(new EngineSettingsInterceptor());
            config.AddCommand<TrainCommand>("train")
                .WithDescription("Train a GPT on the embedded synthetic corpus or a UTF-8 text file; writes checkpoints and log.csv to --out.")
                .WithExample("train", "--data", "synthetic", "--attention", "softmax", "--context", "64", "--steps", "500", "--out", "runs/softmax")
                .WithExample("train", "--out", "runs/softmax", "--resume", "--steps", "1000");
            config.AddCommand<EvalCommand>("eval")
                .WithDescription("Validation loss of a checkpoint at several window lengths, overall and by position in the window; prints tables and writes CSVs.")
                .WithExample("eval", "--checkpoint", "runs/softmax", "--lengths", "64,128,256,512,1024");
            config.AddCommand<SampleCommand>("sample")
                .WithDescription("Generate text from a checkpoint (temperature, top-k, seed; KV cache).")
                .WithExample("sample", "--checkpoint", "runs/softmax", "--prompt", "\"Chapter 1.\"", "--tokens", "300");
            config.AddCommand<ExtrapolateCommand>("extrapolate")
                .WithDescription("Length extrapolation: train each attention variant at context L (once per seed), evaluate at factor × L; writes loss, loss by position and attention statistics as CSV, Markdown and plots.")
                .WithExample("extrapolate", "--data", "synthetic", "--context", "32", "--steps", "300", "--out", "runs/extrapolate")
                .WithExample("extrapolate", "--context", "32", "--steps", "300", "--seeds", "1,2,3", "--out", "runs/extrapolate-seeds");
            config.AddCommand<PasskeyCommand>("passkey")
                .WithDescription("Passkey retrieval: train each variant with passkey prompts mixed in (or load --checkpoint), then score greedy key retrieval at factor × L and several depths; writes passkey.csv, passkey.md and plots.")
                .WithExample("passkey", "--context", "128", "--steps", "1000", "--variants", "softmax,lssar", "--out", "runs/passkey");
            config.AddCommand<AttentionCommand>("attention")
                .WithDescription("Attention diagnostics of a checkpoint: entropy, far mass and sink mass per layer and head against row length, and attention-map heatmaps for a prompt.")
                .WithExample("attention", "--checkpoint", "runs/extrapolate/runs/lssar/seed-1", "--out", "runs/attention-lssar");
            // An unknown option or a stray argument is an error, never silently ignored.
            config.UseStrictParsing();
            config.PropagateExceptions();
        });
        return app;
    }

    /// <summary>
    /// Runs the application and turns every expected error into one line <c>gpt: message</c> on
    /// <paramref name="error"/> (standard error by default) with exit code 1, so users never see a stack trace.
    /// Without <paramref name="console"/> it writes to the terminal, as wide as <c>COLUMNS</c> says when that is set.
    /// </summary>
    public static int Run(string[] args, CancellationToken cancellation, IAnsiConsole? console = null, TextWriter? error = null)
    {
        CommandLineArgs.Value = args;
        // The command's --precision scope (EngineSettingsInterceptor) must not outlive the command in an in-process caller.
        using var precision = Autocast.Enter(Autocast.Current);
        try
        {
            return Create(console ?? ConsoleWidth.Apply(AnsiConsole.Console, Environment.GetEnvironmentVariable("COLUMNS"))).Run(args, cancellation);
        }
        catch (Exception e) when (IsExpected(e))
        {
            string message = e is CommandParseException parse && ParseErrorMessage.Describe(parse, args, SettingsByCommand) is { } better ? better : Message(e);
            (error ?? Console.Error).WriteLine($"gpt: {message}");
            return 1;
        }
    }

    /// <summary>The arguments of the run in progress on this flow (not the host's: tests run the app in-process).</summary>
    private static readonly AsyncLocal<string[]?> CommandLineArgs = new();

    /// <summary>The command line as a user would type it, for the reports' first line ("gpt extrapolate …").</summary>
    internal static string CommandLine =>
        "gpt " + string.Join(' ', (CommandLineArgs.Value ?? Environment.GetCommandLineArgs().Skip(1).ToArray()).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));

    /// <summary>Each command's settings type, for suggestions of the nearest option.</summary>
    internal static readonly IReadOnlyDictionary<string, Type> SettingsByCommand = new Dictionary<string, Type>
    {
        ["train"] = typeof(TrainCommand.Settings),
        ["eval"] = typeof(EvalCommand.Settings),
        ["sample"] = typeof(SampleCommand.Settings),
        ["extrapolate"] = typeof(ExtrapolateCommand.Settings),
        ["passkey"] = typeof(PasskeyCommand.Settings),
        ["attention"] = typeof(AttentionCommand.Settings),
    };

    /// <summary>The exception types that bad input, bad files or an interrupted run produce.</summary>
    internal static bool IsExpected(Exception e) =>
        e is CommandAppException or ArgumentException or InvalidOperationException or IOException or InvalidDataException or UnauthorizedAccessException
            or CheckpointException or FormatException or NotSupportedException or OperationCanceledException
            or Engine.Cuda.CudaUnavailableException or Engine.Cuda.CudaOutOfMemoryException;

    private static string Message(Exception e) => e switch
    {
        InputTooLargeException big => $"{big.Message}; raise the limit with --max-data-mb (at least {(big.Size + (1 << 20) - 1) >> 20})",
        _ => e.Message,
    };
}
