using ScottPlot;

namespace Engine.Examples.Gpt;

/// <summary>The passkey plots (ScottPlot): accuracy against window length per variant, and a depth × length heatmap.</summary>
internal static class PasskeyPlot
{
    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg: mean accuracy over depths against length, one line per variant.</summary>
    public static void SaveAccuracy(string pathWithoutExtension, IReadOnlyList<string> variants, int[] windows, Func<string, int, double> accuracy, int context)
    {
        var plot = new Plot();
        // Windows usually double from point to point, so the x axis is log2(length) with the lengths as tick labels.
        double[] xs = windows.Select(w => Math.Log2(w)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < variants.Count; i++)
        {
            var line = plot.Add.Scatter(xs, windows.Select(w => 100 * accuracy(variants[i], w)).ToArray());
            line.LegendText = variants[i];
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 7;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs.Select((x, i) => new Tick(x, $"{windows[i]}\n({windows[i] / (double)context:G3}×L)")).ToArray());
        var trained = plot.Add.VerticalLine(Math.Log2(context));
        trained.LinePattern = LinePattern.Dashed;
        trained.Color = Colors.Gray;
        trained.LegendText = "training length";
        plot.Axes.SetLimitsY(-5, 105);
        plot.XLabel("window length (characters read)");
        plot.YLabel("passkey accuracy (%, mean over depths)");
        plot.Title("Passkey retrieval");
        plot.ShowLegend(Edge.Right);
        Save(plot, pathWithoutExtension, 900, 560);
    }

    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg: accuracy by depth (rows) and length (columns) for one variant.</summary>
    public static void SaveHeatmap(string pathWithoutExtension, string variant, int[] windows, double[] depths, Func<int, double, double> accuracy, int context)
    {
        var grid = new double[depths.Length, windows.Length];
        for (int r = 0; r < depths.Length; r++)
            for (int c = 0; c < windows.Length; c++) grid[r, c] = 100 * accuracy(windows[c], depths[r]);
        var plot = new Plot();
        var heat = plot.Add.Heatmap(grid);
        heat.Colormap = new ScottPlot.Colormaps.Viridis();
        heat.FlipVertically = true;                                   // depth 0 (key first) at the bottom
        heat.Position = new CoordinateRect(0, windows.Length - 1, 0, depths.Length - 1);   // cell centres on integers
        heat.ManualRange = new ScottPlot.Range(0, 100);
        var bar = plot.Add.ColorBar(heat);
        bar.Label = "accuracy (%)";
        for (int r = 0; r < depths.Length; r++)
            for (int c = 0; c < windows.Length; c++)
            {
                var text = plot.Add.Text($"{grid[r, c]:F0}", c, r);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 14;
                text.LabelFontColor = grid[r, c] > 60 ? Colors.Black : Colors.White;
            }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            windows.Select((w, i) => new Tick(i, $"{w}\n({w / (double)context:G3}×L)")).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            depths.Select((d, i) => new Tick(i, $"{d:G3}")).ToArray());
        plot.Axes.SetLimits(-0.5, windows.Length - 0.5, -0.5, depths.Length - 0.5);
        plot.XLabel("window length (characters read)");
        plot.YLabel("depth of the key (0: first, 1: last)");
        plot.Title($"Passkey accuracy: {variant}");
        Save(plot, pathWithoutExtension, 760, 520);
    }

    private static void Save(Plot plot, string pathWithoutExtension, int width, int height)
    {
        AtomicFile.Write(pathWithoutExtension + ".png", tmp => plot.SavePng(tmp, width, height));
        AtomicFile.Write(pathWithoutExtension + ".svg", tmp => plot.SaveSvg(tmp, width, height));
    }
}
