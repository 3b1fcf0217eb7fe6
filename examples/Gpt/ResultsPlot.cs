using Engine.Nn.Diagnostics;
using ScottPlot;

namespace Engine.Examples.Gpt;

/// <summary>
/// The extrapolation plot: validation loss against evaluation length, one line per variant (the mean over seeds), with
/// a shaded ±1 sd band when there are several seeds (ScottPlot).
/// </summary>
internal static class ResultsPlot
{
    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg.</summary>
    public static void Save(string pathWithoutExtension, IReadOnlyList<string> variants, int[] lengths, Func<string, int, MeanSpread> loss, int context)
    {
        var plot = new Plot();
        // Lengths double from point to point, so the x axis is log2(length) with the lengths as tick labels.
        double[] xs = lengths.Select(l => Math.Log2(l)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < variants.Count; i++)
        {
            var points = lengths.Select(l => loss(variants[i], l)).ToArray();
            AddBand(plot, xs, points, palette.GetColor(i));
            var line = plot.Add.Scatter(xs, points.Select(p => p.Mean).ToArray());
            line.LegendText = variants[i];
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs.Select((x, i) => new Tick(x, $"{lengths[i]}\n({lengths[i] / (double)context:G3}×L)")).ToArray());
        AddTrainingLength(plot, Math.Log2(context));
        plot.XLabel("evaluation length (characters)");
        plot.YLabel("validation loss (nats/char)");
        plot.Title(Title("Length extrapolation", lengths.Length == 0 ? 1 : loss(variants[0], lengths[0]).Count));
        plot.ShowLegend(Alignment.UpperLeft);
        SavePngSvg(plot, pathWithoutExtension, 900, 560);
    }

    /// <summary>A ±1 sd band behind a line, when the points come from more than one seed.</summary>
    internal static void AddBand(Plot plot, double[] xs, MeanSpread[] points, Color color)
    {
        if (points.Any(p => p.Count < 2)) return;
        var band = plot.Add.FillY(xs, points.Select(p => p.Mean - p.StandardDeviation).ToArray(), points.Select(p => p.Mean + p.StandardDeviation).ToArray());
        band.FillStyle.Color = color.WithAlpha(0.2);
        band.LineStyle.Width = 0;
    }

    /// <summary>The dashed vertical marker at the training length.</summary>
    internal static void AddTrainingLength(Plot plot, double x)
    {
        var trained = plot.Add.VerticalLine(x);
        trained.LinePattern = LinePattern.Dashed;
        trained.Color = Colors.Gray;
        trained.LegendText = "training length L";
    }

    /// <summary>The plot title, noting the seeds behind the lines.</summary>
    internal static string Title(string title, int seeds) => seeds > 1 ? $"{title} (mean ± 1 sd over {seeds} seeds)" : title;

    /// <summary>Writes the plot as .png and .svg, each atomically.</summary>
    internal static void SavePngSvg(Plot plot, string pathWithoutExtension, int width, int height)
    {
        AtomicFile.Write(pathWithoutExtension + ".png", tmp => plot.SavePng(tmp, width, height));
        AtomicFile.Write(pathWithoutExtension + ".svg", tmp => plot.SaveSvg(tmp, width, height));
    }
}
