using Engine.Nn.Diagnostics;
using ScottPlot;

namespace Engine.Examples.Gpt;

/// <summary>
/// One layer's attention against evaluation length: the far mass (solid) and the entropy divided by log n (dashed),
/// mean over heads and seeds, one colour per variant; both lie in [0, 1] (ScottPlot).
/// </summary>
internal static class AttentionPlot
{
    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg.</summary>
    /// <param name="pathWithoutExtension">Output path without extension.</param>
    /// <param name="layer">The layer shown (for the title).</param>
    /// <param name="variants">One line pair per variant.</param>
    /// <param name="lengths">Evaluation lengths (x).</param>
    /// <param name="measure">Far mass and entropy/log n of a variant at a length.</param>
    /// <param name="context">Training length L.</param>
    public static void Save(string pathWithoutExtension, int layer, IReadOnlyList<string> variants, int[] lengths,
        Func<string, int, (MeanSpread FarMass, MeanSpread NormalisedEntropy)> measure, int context)
    {
        var plot = new Plot();
        double[] xs = lengths.Select(l => Math.Log2(l)).ToArray();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < variants.Count; i++)
        {
            var points = lengths.Select(l => measure(variants[i], l)).ToArray();
            var far = plot.Add.Scatter(xs, points.Select(p => p.FarMass.Mean).ToArray());
            far.LegendText = $"{variants[i]}: far mass";
            far.Color = palette.GetColor(i);
            far.LineWidth = 2;
            far.MarkerSize = 6;
            var entropy = plot.Add.Scatter(xs, points.Select(p => p.NormalisedEntropy.Mean).ToArray());
            entropy.LegendText = $"{variants[i]}: entropy / log n";
            entropy.Color = palette.GetColor(i);
            entropy.LineWidth = 2;
            entropy.LinePattern = LinePattern.Dashed;
            entropy.MarkerShape = MarkerShape.OpenCircle;
            entropy.MarkerSize = 6;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            xs.Select((x, i) => new Tick(x, $"{lengths[i]}\n({lengths[i] / (double)context:G3}×L)")).ToArray());
        plot.Axes.SetLimitsY(0, 1.05);
        plot.XLabel("evaluation length (characters)");
        plot.YLabel("mean over heads and query rows");
        plot.Title($"Layer {layer}: attention beyond L and its spread");
        plot.ShowLegend(Alignment.UpperRight);
        ResultsPlot.SavePngSvg(plot, pathWithoutExtension, 900, 560);
    }
}
