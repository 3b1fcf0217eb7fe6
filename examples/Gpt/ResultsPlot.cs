using ScottPlot;

namespace Engine.Examples.Gpt;

/// <summary>The extrapolation plot: validation loss against evaluation length, one line per variant (ScottPlot).</summary>
internal static class ResultsPlot
{
    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg.</summary>
    public static void Save(string pathWithoutExtension, IReadOnlyList<string> variants, int[] lengths, Func<string, int, double> loss, int context)
    {
        var plot = new Plot();
        // Lengths double from point to point, so the x axis is log2(length) with the lengths as tick labels.
        double[] xs = lengths.Select(l => Math.Log2(l)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < variants.Count; i++)
        {
            double[] ys = lengths.Select(l => loss(variants[i], l)).ToArray();
            var line = plot.Add.Scatter(xs, ys);
            line.LegendText = variants[i];
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs.Select((x, i) => new Tick(x, $"{lengths[i]}\n({lengths[i] / (double)context:G3}×L)")).ToArray());
        var trained = plot.Add.VerticalLine(Math.Log2(context));
        trained.LinePattern = LinePattern.Dashed;
        trained.Color = Colors.Gray;
        trained.LegendText = "training length";
        plot.XLabel("evaluation length (characters)");
        plot.YLabel("validation loss (nats/char)");
        plot.Title("Length extrapolation");
        plot.ShowLegend(Alignment.UpperLeft);
        plot.SavePng(pathWithoutExtension + ".png", 900, 560);
        plot.SaveSvg(pathWithoutExtension + ".svg", 900, 560);
    }
}
