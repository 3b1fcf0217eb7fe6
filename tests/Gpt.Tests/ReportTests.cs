using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml;
using System.Xml.Linq;
using Engine.Nn.Data;

namespace Engine.Examples.Gpt.Tests;

/// <summary>report.html: one well-formed, self-contained page with the numbers of results.md, every plot inline and every string from the run escaped.</summary>
public class ReportTests
{
    /// <summary>A tiny extrapolate run (with attention statistics, so three plots) on a data file whose path needs escaping.</summary>
    private static string Extrapolate(TempDir dir, string outName)
    {
        string data = dir["corpus <b>&'x\".txt"];
        File.WriteAllText(data, SyntheticCorpus.Generate(new SyntheticCorpusOptions { Characters = 4000 }));
        string outDir = dir[outName];
        var r = Cli.Run("extrapolate", "--data", data, "--layers", "1", "--heads", "2", "--dim", "8", "--context", "8", "--steps", "10", "--batch", "2",
            "--factors", "1,2", "--variants", "softmax,lssar", "--attention-tokens", "32", "--eval-tokens", "64", "--out", outDir);
        Assert.True(r.ExitCode == 0, r.Error);
        return outDir;
    }

    private static XDocument Parse(string path)
    {
        using var reader = XmlReader.Create(path, new XmlReaderSettings { DtdProcessing = DtdProcessing.Ignore });
        return XDocument.Load(reader, LoadOptions.PreserveWhitespace);
    }

    [Fact]
    public void ExtrapolateWritesAWellFormedSelfContainedReport()
    {
        using var dir = new TempDir();
        string outDir = Extrapolate(dir, "out <i>");
        string path = Path.Combine(outDir, "report.html");
        string html = File.ReadAllText(path);
        var doc = Parse(path);   // well-formed: every tag closed, every string escaped
        var elements = doc.Descendants().ToList();

        // The user's strings are text, never markup.
        Assert.DoesNotContain(elements, e => e.Name.LocalName is "b" or "i" or "script" or "link" or "iframe" or "object" or "embed" or "img");
        Assert.Contains("corpus <b>&'x\".txt", doc.Root!.Value);
        Assert.StartsWith("gpt ", elements.First(e => e.Name.LocalName == "pre").Value);   // the command (in-process: the test host's)

        // Nothing is loaded from elsewhere: the only references are to ids in the page.
        var references = elements.SelectMany(e => e.Attributes()).Where(a => a.Name.LocalName is "href" or "src").ToList();
        Assert.All(references, a => Assert.StartsWith("#", a.Value));
        Assert.DoesNotContain("@import", html);
        Assert.Empty(Regex.Matches(html, @"url\((?!#)"));
        Assert.Empty(Regex.Matches(html, @"(?<!xmlns(:\w+)?="")https?://"));

        // Every plot inline, once, with ids that do not clash.
        var plots = Directory.GetFiles(outDir, "*.svg");
        Assert.Equal(3, plots.Length);
        var svgs = elements.Where(e => e.Name.LocalName == "svg" && e.Parent?.Name.LocalName != "svg").ToList();
        Assert.Equal(plots.Length, svgs.Count);
        var ids = elements.Select(e => (string?)e.Attribute("id")).OfType<string>().ToList();
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(svgs, s => Assert.NotNull(s.Attribute("viewBox")));

        // The same tables as results.md: every number there is in the page.
        string text = doc.Root.Value;
        foreach (Match number in Regex.Matches(File.ReadAllText(Path.Combine(outDir, "results.md")), @"\d+\.\d+"))
            Assert.Contains(number.Value, text);
        Assert.Contains(elements, e => e.Name.LocalName == "td" && e.Value == "softmax");
        Assert.Contains(elements, e => e.Name.LocalName == "td" && e.Value == "lssar");
        Assert.Equal("Length extrapolation: validation loss against evaluation length", elements.First(e => e.Name.LocalName == "title").Value);

        // Written atomically: no temporary file left behind.
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp*"));
    }

    [Fact]
    public void RenderEscapesMarkupInEveryPart()
    {
        using var dir = new TempDir();
        string md = "# a <title>\n\n```\ngpt train --out \"<x>\"\n```\n\npara <b>bold</b> & **strong <i>** `x<y`\n\n| h<1> | n |\n| --- | ---: |\n| <script>alert(1)</script> | 1.5 |\n\n![missing <plot>](nothing.png)\n";
        string html = HtmlReport.Render(md, dir.Path);
        var doc = XDocument.Parse(html.Replace("<!DOCTYPE html>", ""), LoadOptions.PreserveWhitespace);
        Assert.DoesNotContain(doc.Descendants(), e => e.Name.LocalName is "b" or "i" or "script" or "x" or "title" && e.Parent?.Name.LocalName != "head");
        Assert.Contains("<script>alert(1)</script>", doc.Root!.Value);
        Assert.Contains("gpt train --out \"<x>\"", doc.Root.Value);
        Assert.Contains("(plot not found: nothing.svg)", doc.Root.Value);
        Assert.Equal("strong <i>", doc.Descendants().Single(e => e.Name.LocalName == "strong").Value);
        Assert.Equal("x<y", doc.Descendants().Single(e => e.Name.LocalName == "code" && e.Parent?.Name.LocalName == "p").Value);
        Assert.Equal("num", doc.Descendants().First(e => e.Name.LocalName == "td" && e.Value == "1.5").Attribute("class")?.Value);
    }

    [Fact]
    public void ReportRendersInAHeadlessBrowser()
    {
        string? chromium = new[] { "chromium", "chromium-browser", "google-chrome" }.Select(FindOnPath).FirstOrDefault(p => p is not null);
        if (chromium is null) Assert.Skip("no chromium on PATH (Debian: apt-get install chromium)");
        using var dir = new TempDir();
        string outDir = Extrapolate(dir, "out");
        string shot = dir["report.png"];
        var info = new ProcessStartInfo(chromium)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
                     $"--user-data-dir={dir["profile"]}", $"--screenshot={shot}", "--window-size=1200,2000", new Uri(Path.Combine(outDir, "report.html")).AbsoluteUri })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("chromium did not take the screenshot within 90 s");
        }
        Assert.True(File.Exists(shot), $"chromium (exit {process.ExitCode}) wrote no screenshot");
        byte[] png = File.ReadAllBytes(shot);
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        // IHDR: width and height, big-endian, at bytes 16 and 20.
        Assert.Equal(1200, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(2000, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        // A blank (one-colour) page compresses to a few kilobytes; text, tables and plots do not.
        Assert.True(png.Length > 50_000, $"the screenshot is only {png.Length} bytes: is the page blank?");
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
}
