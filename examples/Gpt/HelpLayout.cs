using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;

namespace Engine.Examples.Gpt;

/// <summary>
/// gpt's <c>--help</c>: Spectre's help, with every example on one line whatever the width (a command is never split;
/// only descriptions wrap) and no trailing spaces (Spectre pads grid cells to the column width).
/// </summary>
internal sealed class GptHelpProvider(ICommandAppSettings settings) : HelpProvider(settings)
{
    public override IEnumerable<IRenderable> Write(ICommandModel model, ICommandInfo? command) =>
        base.Write(model, command).Select(r => new TrimmedLines(r));

    public override IEnumerable<IRenderable> GetExamples(ICommandModel model, ICommandInfo? command) =>
        base.GetExamples(model, command).Select(r => new TrimmedLines(r, unwrapped: true));
}

/// <summary>
/// A renderable drawn without trailing white space on any line; <c>unwrapped</c> draws it as on a console wide
/// enough for its longest line, so its lines are never wrapped.
/// </summary>
internal sealed class TrimmedLines(IRenderable inner, bool unwrapped = false) : IRenderable
{
    private const int Unbounded = 4096;

    public Measurement Measure(RenderOptions options, int maxWidth) => inner.Measure(options, maxWidth);

    public IEnumerable<Segment> Render(RenderOptions options, int maxWidth)
    {
        var line = new List<Segment>();
        foreach (var segment in inner.Render(options, unwrapped ? Math.Max(maxWidth, Unbounded) : maxWidth))
        {
            if (segment.IsControlCode) { line.Add(segment); continue; }
            if (segment.IsLineBreak)
            {
                foreach (var s in Trimmed(line)) yield return s;
                yield return segment;
                line.Clear();
                continue;
            }
            var parts = segment.Text.Split('\n');
            for (int i = 0; i < parts.Length; i++)
            {
                if (i > 0)
                {
                    foreach (var s in Trimmed(line)) yield return s;
                    yield return Segment.LineBreak;
                    line.Clear();
                }
                if (parts[i].Length > 0) line.Add(new Segment(parts[i], segment.Style));
            }
        }
        foreach (var s in Trimmed(line)) yield return s;
    }

    /// <summary>The segments of one line with the white space at its end removed.</summary>
    private static List<Segment> Trimmed(List<Segment> line)
    {
        var result = new List<Segment>(line);
        for (int i = result.Count - 1; i >= 0; i--)
        {
            if (result[i].IsControlCode) continue;
            string text = result[i].Text.TrimEnd();
            if (text.Length == result[i].Text.Length) break;
            if (text.Length == 0) { result.RemoveAt(i); continue; }
            result[i] = new Segment(text, result[i].Style);
            break;
        }
        return result;
    }
}

/// <summary>The console width gpt renders at: <c>COLUMNS</c> when it is a positive integer, else Spectre's own choice.</summary>
internal static class ConsoleWidth
{
    /// <summary>The width that <paramref name="columns"/> (the value of <c>COLUMNS</c>) asks for, if it is a positive integer.</summary>
    public static int? Parse(string? columns) =>
        int.TryParse(columns?.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int w) && w > 0 ? w : null;

    /// <summary>
    /// Sets <paramref name="console"/>'s width from <paramref name="columns"/> when that is a positive integer; otherwise
    /// leaves Spectre's choice, which is the terminal's width on a terminal and 80 when output is redirected.
    /// </summary>
    public static IAnsiConsole Apply(IAnsiConsole console, string? columns)
    {
        if (Parse(columns) is int width) console.Profile.Width = width;
        return console;
    }
}
