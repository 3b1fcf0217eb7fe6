using Spectre.Console;

namespace Engine.Examples.Gpt.Tests;

/// <summary>Runs the gpt application in-process, capturing what Spectre renders and the one-line errors.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Output, string Error);

    /// <summary>Runs gpt on a 200-column console.</summary>
    public static Result Run(params string[] args) => RunWithColumns("200", args);

    /// <summary>
    /// Runs gpt on a console that is not a terminal (Spectre's width 80), with the width that <c>COLUMNS</c> =
    /// <paramref name="columns"/> gives the real program (null: unset).
    /// </summary>
    public static Result RunWithColumns(string? columns, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        ConsoleWidth.Apply(console, columns);
        int code = GptApp.Run(args, TestContext.Current.CancellationToken, console, error);
        return new Result(code, output.ToString(), error.ToString().TrimEnd());
    }
}

internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gpt-test-{Guid.NewGuid():N}");
    public string this[string name] => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
