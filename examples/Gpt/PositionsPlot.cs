using Engine.Nn.Diagnostics;
using ScottPlot;

namespace Engine.Examples.Gpt;

/// <summary>
/// Validation loss against the position of the prediction inside its window (the fine curve), one line per variant
/// at one evaluation length, with a marker at the training length L (ScottPlot).
/// </summary>
internal static class PositionsPlot
{
    /// <summary>One variant's curve: bin centres (positions) and the loss of each bin over seeds.</summary>
    internal sealed record Curve(string Variant, double[] Positions, MeanSpread[] Loss);

    /// <summary>Writes <paramref name="pathWithoutExtension"/>.png and .svg.</summary>
    public static void Save(string pathWithoutExtension, IReadOnlyList<Curve> curves, int context, int length)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Count; i++)
        {
            var c = curves[i];
            ResultsPlot.AddBand(plot, c.Positions, c.Loss, palette.GetColor(i));
            var line = plot.Add.Scatter(c.Positions, c.Loss.Select(p => p.Mean).ToArray());
            line.LegendText = c.Variant;
            line.Color = palette.GetColor(i);
            line.LineWidth = 2;
            line.MarkerSize = 3;
        }
        ResultsPlot.AddTrainingLength(plot, context);
        plot.XLabel($"position in the {length}-character window ({length / context}×L)");
        plot.YLabel("validation loss (nats/char)");
        plot.Title(ResultsPlot.Title("Loss by position", curves.Count == 0 || curves[0].Loss.Length == 0 ? 1 : curves[0].Loss[0].Count));
        plot.ShowLegend(Alignment.UpperLeft);
        ResultsPlot.SavePngSvg(plot, pathWithoutExtension, 900, 560);
    }
}
