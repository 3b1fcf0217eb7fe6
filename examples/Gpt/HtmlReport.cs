using System.Text;
using System.Text.RegularExpressions;

namespace Engine.Examples.Gpt;

/// <summary>
/// report.html: one self-contained page made from a run's Markdown results (results.md, passkey.md) and the plots
/// beside it. The page shows exactly what the Markdown does (the command, the configuration, every table) with each
/// plot inlined as SVG: no scripts, no style sheets, fonts or images from elsewhere, so it opens offline and can be
/// mailed as one file. The output is well-formed XML (polyglot HTML) and escapes every string taken from the run.
/// </summary>
internal static partial class HtmlReport
{
    /// <summary>Renders <paramref name="markdownPath"/> and the plots in its directory into <paramref name="path"/>, atomically.</summary>
    public static void Write(string path, string markdownPath)
    {
        string markdown = File.ReadAllText(markdownPath);
        AtomicFile.WriteAllText(path, Render(markdown, Path.GetDirectoryName(Path.GetFullPath(markdownPath))!));
    }

    /// <summary>
    /// The page for <paramref name="markdown"/> (the subset gpt writes: headings, fenced code, paragraphs, pipe tables
    /// and image lines); an image line <c>![alt](name.png)</c> becomes name.svg from <paramref name="directory"/>, inline.
    /// </summary>
    public static string Render(string markdown, string directory)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        string title = lines.FirstOrDefault(l => l.StartsWith("# ", StringComparison.Ordinal))?[2..].Trim() ?? "gpt report";
        var body = new StringBuilder();
        var paragraph = new List<string>();
        int plots = 0;
        void EndParagraph()
        {
            if (paragraph.Count == 0) return;
            body.Append("<p>").Append(Inline(string.Join(' ', paragraph))).Append("</p>\n");
            paragraph.Clear();
        }

        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                EndParagraph();
                var code = new List<string>();
                for (i++; i < lines.Length && !lines[i].StartsWith("```", StringComparison.Ordinal); i++) code.Add(lines[i]);
                // Each word unbreakable, so a long command wraps between arguments (never after a "--").
                body.Append("<pre><code>").Append(string.Join('\n', code.Select(l => string.Join(' ', l.Split(' ').Select(w => w.Length == 0 ? "" : $"<span class=\"w\">{Escape(w)}</span>"))))).Append("</code></pre>\n");
            }
            else if (Heading().Match(line) is { Success: true } h)
            {
                EndParagraph();
                int level = h.Groups[1].Length;
                body.Append($"<h{level}>").Append(Escape(h.Groups[2].Value.Trim())).Append($"</h{level}>\n");
            }
            else if (line.StartsWith('|'))
            {
                EndParagraph();
                var table = new List<string>();
                for (; i < lines.Length && lines[i].StartsWith('|'); i++) table.Add(lines[i]);
                i--;
                AppendTable(body, table);
            }
            else if (Image().Match(line.Trim()) is { Success: true } image)
            {
                EndParagraph();
                AppendFigure(body, image.Groups[1].Value, image.Groups[2].Value, directory, ++plots);
            }
            else if (line.Trim().Length == 0) EndParagraph();
            else paragraph.Add(line.Trim());
        }
        EndParagraph();

        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n");
        page.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n");
        page.Append("<title>").Append(Escape(title)).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n<main>\n");
        page.Append(body);
        page.Append("</main>\n</body>\n</html>\n");
        return page.ToString();
    }

    /// <summary>A pipe table: the header row, the alignment row (---: right-aligns a column), then the body.</summary>
    private static void AppendTable(StringBuilder sb, List<string> rows)
    {
        static string[] Cells(string row) => row.Trim().Trim('|').Split('|').Select(c => c.Trim()).ToArray();
        var header = Cells(rows[0]);
        bool hasAlignment = rows.Count > 1 && Cells(rows[1]).All(c => AlignmentCell().IsMatch(c));
        var right = hasAlignment ? Cells(rows[1]).Select(c => c.EndsWith(':')).ToArray() : [];
        string Attr(int column) => column < right.Length && right[column] ? " class=\"num\"" : "";
        sb.Append("<div class=\"table\"><table>\n<thead><tr>");
        for (int c = 0; c < header.Length; c++) sb.Append($"<th{Attr(c)}>").Append(Escape(header[c])).Append("</th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in rows.Skip(hasAlignment ? 2 : 1))
        {
            var cells = Cells(row);
            sb.Append("<tr>");
            for (int c = 0; c < cells.Length; c++) sb.Append($"<td{Attr(c)}>").Append(Escape(cells[c])).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table></div>\n");
    }

    /// <summary>The plot <paramref name="file"/> as inline SVG (its .svg twin), its ids made unique to this page.</summary>
    private static void AppendFigure(StringBuilder sb, string alt, string file, string directory, int index)
    {
        string svgPath = Path.Combine(directory, Path.ChangeExtension(Path.GetFileName(file), ".svg"));
        sb.Append("<figure>\n");
        if (File.Exists(svgPath)) sb.Append(InlineSvg(File.ReadAllText(svgPath), $"plot{index}-", alt)).Append('\n');
        else sb.Append("<p class=\"missing\">(plot not found: ").Append(Escape(Path.GetFileName(svgPath))).Append(")</p>\n");
        sb.Append("<figcaption>").Append(Escape(alt)).Append("</figcaption>\n</figure>\n");
    }

    /// <summary>
    /// An SVG document as an element of the page: without its XML declaration, with a viewBox so that it scales to
    /// the page's width, an accessible name, and every id (and reference to one) prefixed, since ScottPlot numbers its
    /// clip paths the same way in every file.
    /// </summary>
    internal static string InlineSvg(string svg, string prefix, string label)
    {
        int start = svg.IndexOf("<svg", StringComparison.Ordinal);
        if (start < 0) throw new InvalidDataException("report: a plot file holds no <svg> element");
        svg = svg[start..].TrimEnd();
        svg = IdAttribute().Replace(svg, m => $"id=\"{prefix}{m.Groups[1].Value}\"");
        svg = UrlReference().Replace(svg, m => $"url(#{prefix}{m.Groups[1].Value})");
        svg = HrefReference().Replace(svg, m => $"{m.Groups[1].Value}=\"#{prefix}{m.Groups[2].Value}\"");
        var root = SvgRoot().Match(svg);
        if (root.Success)
        {
            string attributes = root.Groups[1].Value;
            string extra = $" role=\"img\" aria-label=\"{Escape(label)}\"";
            if (!attributes.Contains("viewBox", StringComparison.Ordinal)
                && WidthAttribute().Match(attributes) is { Success: true } w && HeightAttribute().Match(attributes) is { Success: true } h)
                extra += $" viewBox=\"0 0 {w.Groups[1].Value} {h.Groups[1].Value}\"";
            svg = "<svg" + attributes + extra + ">" + svg[root.Length..];
        }
        return svg;
    }

    /// <summary>Escaped paragraph text with Markdown's **bold** and `code` spans (applied after escaping, so safe).</summary>
    private static string Inline(string text) =>
        CodeSpan().Replace(Bold().Replace(Escape(text), "<strong>$1</strong>"), "<code>$1</code>");

    /// <summary>Text for HTML (and XML): the five characters with a meaning escaped.</summary>
    internal static string Escape(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char ch in text)
            sb.Append(ch switch { '&' => "&amp;", '<' => "&lt;", '>' => "&gt;", '"' => "&quot;", '\'' => "&#39;", _ => ch.ToString() });
        return sb.ToString();
    }

    private const string Style = """

        :root { color-scheme: light; }
        body { margin: 0; background: #f6f7f9; color: #1d2330; font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
        main { max-width: 1000px; margin: 0 auto; padding: 2rem 1.5rem 4rem; background: #fff; min-height: 100vh; box-sizing: border-box; }
        h1 { font-size: 1.7rem; line-height: 1.25; margin: 0 0 1rem; }
        h2, h3 { font-size: 1.2rem; margin: 2rem 0 0.6rem; }
        p { margin: 0.8rem 0; }
        pre { background: #f0f2f5; border: 1px solid #dde1e7; border-radius: 6px; padding: 0.8rem 1rem; overflow-x: auto; white-space: pre-wrap; }
        pre .w { white-space: nowrap; }
        code { font: 0.9rem/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
        .table { overflow-x: auto; margin: 1rem 0 1.5rem; }
        table { border-collapse: collapse; font-size: 0.92rem; }
        th, td { padding: 0.35rem 0.75rem; border-bottom: 1px solid #e3e6eb; text-align: left; white-space: nowrap; }
        thead th { border-bottom: 2px solid #c5cbd4; background: #fafbfc; }
        tbody tr:nth-child(even) { background: #f8f9fb; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        figure { margin: 1.5rem 0 2rem; }
        figure svg { display: block; width: 100%; height: auto; max-width: 900px; margin: 0 auto; border: 1px solid #e3e6eb; }
        figcaption { text-align: center; color: #5a6272; font-size: 0.9rem; margin-top: 0.4rem; }
        .missing { color: #a33; }

        """;

    [GeneratedRegex(@"\*\*(.+?)\*\*")]
    private static partial Regex Bold();

    [GeneratedRegex("`([^`]+)`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"^(#{1,6})\s+(.*)$")]
    private static partial Regex Heading();

    [GeneratedRegex(@"^!\[([^\]]*)\]\(([^)\s]+)\)$")]
    private static partial Regex Image();

    [GeneratedRegex(@"^:?-{3,}:?$")]
    private static partial Regex AlignmentCell();

    [GeneratedRegex("\\bid=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();

    [GeneratedRegex(@"url\(#([^)]+)\)")]
    private static partial Regex UrlReference();

    [GeneratedRegex("\\b((?:xlink:)?href)=\"#([^\"]+)\"")]
    private static partial Regex HrefReference();

    [GeneratedRegex(@"^<svg\b([^>]*)>")]
    private static partial Regex SvgRoot();

    [GeneratedRegex("\\bwidth=\"([0-9.]+)\"")]
    private static partial Regex WidthAttribute();

    [GeneratedRegex("\\bheight=\"([0-9.]+)\"")]
    private static partial Regex HeightAttribute();
}
