using System.Globalization;
using System.Text;
using Engine.Nn.Data;
using Engine.Nn.Diagnostics;
using Engine.Nn.Evaluation;
using Spectre.Console;

namespace Engine.Examples.Gpt;

/// <summary>
/// The measurements of one <c>gpt extrapolate</c> run (per variant, seed and evaluation length) and the files made from
/// them: results.csv, positions.csv, attention.csv, results.md and the plots (see docs/extrapolation.md). Tables and
/// plots show the mean over seeds, ± the sample standard deviation when there are several.
/// </summary>
internal sealed partial class ExtrapolationReport(IReadOnlyList<ExtrapolateCommand.Variant> variants, int[] lengths, ulong[] seeds, int context)
{
    /// <summary>The loss of one trained model (seed) for one variant at one evaluation length.</summary>
    internal sealed record LossRow(ExtrapolateCommand.Variant Variant, ulong Seed, int Length, EvaluationResult Result, long Tokens);

    /// <summary>The attention statistics of one variant and seed at one evaluation length.</summary>
    internal sealed record AttentionRow(ExtrapolateCommand.Variant Variant, ulong Seed, int Length, AttentionStatistics Statistics);

    /// <summary>The training summary of one trained attention and seed.</summary>
    internal sealed record TrainingRow(string Label, ulong Seed, double TrainLoss, double ValidationLoss, double MsPerStep);

    public List<LossRow> Losses { get; } = [];
    public List<AttentionRow> Attention { get; } = [];
    public List<TrainingRow> Training { get; } = [];

    private static readonly CultureInfo C = CultureInfo.InvariantCulture;

    private IEnumerable<LossRow> LossesOf(ExtrapolateCommand.Variant v, int length) =>
        seeds.Select(seed => Losses.First(r => r.Variant == v && r.Seed == seed && r.Length == length));

    /// <summary>Mean ± sd over seeds of the loss of a variant at a length.</summary>
    public MeanSpread Loss(ExtrapolateCommand.Variant v, int length) => MeanSpread.Of(LossesOf(v, length).Select(r => r.Result.MeanLoss).ToArray());

    /// <summary>Mean ± sd over seeds of the bits per byte of a variant at a length.</summary>
    public MeanSpread BitsPerByte(ExtrapolateCommand.Variant v, int length) => MeanSpread.Of(LossesOf(v, length).Select(r => r.Result.BitsPerByte).ToArray());

    /// <summary>Mean ± sd over seeds of the per-seed ratio loss(longest) / loss(shortest).</summary>
    public MeanSpread Ratio(ExtrapolateCommand.Variant v) =>
        MeanSpread.OfRatios(LossesOf(v, lengths[^1]).Select(r => r.Result.MeanLoss).ToArray(), LossesOf(v, lengths[0]).Select(r => r.Result.MeanLoss).ToArray());

    /// <summary>Mean over heads, then mean ± sd over seeds, of one layer's statistic at one length.</summary>
    private MeanSpread LayerStatistic(ExtrapolateCommand.Variant v, int length, int layer, Func<AttentionSummary, double> pick) =>
        MeanSpread.Of(seeds.Select(seed => pick(Attention.First(r => r.Variant == v && r.Seed == seed && r.Length == length).Statistics.LayerSummary(layer))).ToArray());

    public void WriteResultsCsv(string path)
    {
        var sb = new StringBuilder("variant,seed,train_len,eval_len,val_loss,tokens,bytes,bits_per_byte\n");
        foreach (var r in Losses) sb.Append(C, $"{r.Variant.Name},{r.Seed},{context},{r.Length},{r.Result.MeanLoss:R},{r.Tokens},{r.Result.ScoredBytes},{r.Result.BitsPerByte:R}\n");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    public void WritePositionsCsv(string path)
    {
        var sb = new StringBuilder("variant,seed,train_len,eval_len," + PositionsCsv.Columns + "\n");
        foreach (var r in Losses) PositionsCsv.AppendRows(sb, string.Create(C, $"{r.Variant.Name},{r.Seed},{context},{r.Length},"), r.Result, context);
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    public void WriteAttentionCsv(string path)
    {
        var sb = new StringBuilder("variant,seed,train_len,eval_len,layer,head,windows,entropy,uniform_entropy,far_mass,sink_mass,sink_tokens\n");
        foreach (var r in Attention)
        {
            var st = r.Statistics;
            for (int layer = 0; layer < st.Layers; layer++)
                for (int head = 0; head < st.Heads; head++)
                {
                    var m = st.Summary(layer, head);
                    sb.Append(C, $"{r.Variant.Name},{r.Seed},{context},{r.Length},{layer},{head},{st.Windows},{m.Entropy:R},{m.UniformEntropy:R},{m.FarMass:R},{m.SinkMass:R},{st.Options.SinkTokens}\n");
                }
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>results.png/.svg, positions.png/.svg (longest length) and, with attention statistics, attention-l{layer}.png/.svg.</summary>
    public List<string> SavePlots(string outDir)
    {
        var names = variants.Select(v => v.Name).ToList();
        ResultsPlot.Save(Path.Combine(outDir, "results"), names, lengths, (name, l) => Loss(variants.First(v => v.Name == name), l), context);
        var written = new List<string> { "results.png", "results.svg" };
        int longest = lengths[^1], width = EvaluationResult.CurveWidth(context);
        var curves = variants.Select(v =>
        {
            var perSeed = LossesOf(v, longest).Select(r => r.Result.Curve(width)).ToArray();
            var positions = perSeed[0].Select(b => (b.From + b.To - 1) / 2.0).ToArray();
            var loss = perSeed[0].Select((_, i) => MeanSpread.Of(perSeed.Select(bins => bins[i].MeanLoss).ToArray())).ToArray();
            return new PositionsPlot.Curve(v.Name, positions, loss);
        }).ToList();
        PositionsPlot.Save(Path.Combine(outDir, "positions"), curves, context, longest);
        written.AddRange(["positions.png", "positions.svg"]);
        // Layer plots of an earlier run into the same directory would otherwise be mistaken for this one's.
        foreach (var stale in Directory.EnumerateFiles(outDir, "attention-l*.*").Where(f => StaleLayerPlot().IsMatch(Path.GetFileName(f))))
            File.Delete(stale);
        if (Attention.Count == 0) return written;
        int layers = Attention[0].Statistics.Layers;
        for (int layer = 0; layer < layers; layer++)
        {
            int at = layer;
            AttentionPlot.Save(Path.Combine(outDir, $"attention-l{layer}"), layer, names, lengths, (name, l) =>
            {
                var v = variants.First(x => x.Name == name);
                return (LayerStatistic(v, l, at, m => m.FarMass), LayerStatistic(v, l, at, m => m.Entropy / m.UniformEntropy));
            }, context);
            written.AddRange([$"attention-l{layer}.png", $"attention-l{layer}.svg"]);
        }
        return written;
    }

    /// <summary>results.md: the command, the setup, and the tables (mean ± sd over seeds).</summary>
    public void WriteMarkdown(string path, string setup)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Length extrapolation: validation loss against evaluation length");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(GptApp.CommandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(setup);
        sb.AppendLine();
        string spread = seeds.Length > 1 ? $" Cells are mean ± sample sd over {seeds.Length} seeds ({string.Join(", ", seeds)}); the ratio is taken per seed." : "";
        sb.AppendLine($"Validation loss (nats/token) by evaluation length.{spread}");
        sb.AppendLine();
        sb.Append("| variant (train → eval attention) |");
        foreach (int l in lengths) sb.Append(C, $" {l} ({l / context}×L) |");
        sb.AppendLine($" {lengths[^1] / context}×L / {lengths[0] / context}×L |");
        sb.Append("| --- |");
        foreach (var _ in lengths) sb.Append(" ---: |");
        sb.AppendLine(" ---: |");
        foreach (var v in variants)
        {
            sb.Append(C, $"| {v.Name} ({v.Train.Label} → {v.Eval.Label}) |");
            foreach (int l in lengths) sb.Append(C, $" {Loss(v, l).Format("F4")} |");
            sb.AppendLine($" {Ratio(v).Format("F3")} |");
        }
        sb.AppendLine();
        sb.AppendLine("Bits per byte (summed loss / (ln 2 · UTF-8 bytes of the scored tokens); comparable across tokenizers) by evaluation length.");
        sb.AppendLine();
        sb.Append("| variant |");
        foreach (int l in lengths) sb.Append(C, $" {l} ({l / context}×L) |");
        sb.AppendLine();
        sb.Append("| --- |");
        foreach (var _ in lengths) sb.Append(" ---: |");
        sb.AppendLine();
        foreach (var v in variants)
        {
            sb.Append(C, $"| {v.Name} |");
            foreach (int l in lengths) sb.Append(C, $" {BitsPerByte(v, l).Format("F4")} |");
            sb.AppendLine();
        }
        sb.AppendLine();
        sb.AppendLine("![validation loss against evaluation length](results.png)");
        sb.AppendLine();

        int longest = lengths[^1];
        var buckets = LossesOf(variants[0], longest).First().Result.Buckets(context);
        sb.AppendLine($"Loss by position inside the {longest}-token window (positions below L see the same context as at 1×L; positions.csv has every length and the fine curve).");
        sb.AppendLine();
        sb.Append("| variant |");
        foreach (var b in buckets) sb.Append($" {PositionsCsv.BucketLabel(b, context)} |");
        sb.AppendLine();
        sb.Append("| --- |");
        foreach (var _ in buckets) sb.Append(" ---: |");
        sb.AppendLine();
        foreach (var v in variants)
        {
            var perSeed = LossesOf(v, longest).Select(r => r.Result.Buckets(context)).ToArray();
            sb.Append($"| {v.Name} |");
            for (int i = 0; i < buckets.Count; i++) sb.Append($" {MeanSpread.Of(perSeed.Select(bins => bins[i].MeanLoss).ToArray()).Format("F4")} |");
            sb.AppendLine();
        }
        sb.AppendLine();
        sb.AppendLine("![loss against position](positions.png)");
        sb.AppendLine();

        if (Attention.Count > 0)
        {
            var st = Attention[0].Statistics;
            sb.AppendLine($"Attention at {longest} tokens, mean over heads and query rows: entropy (nats) next to log n (uniform attention), " +
                $"mass on keys at distance ≥ L = {context}, and mass on the first {st.Options.SinkTokens} positions (sink). attention.csv has every length and head.");
            sb.AppendLine();
            sb.AppendLine("| variant | layer | entropy | log n | far mass | sink mass |");
            sb.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
            foreach (var v in variants)
                for (int layer = 0; layer < st.Layers; layer++)
                    sb.AppendLine($"| {v.Name} | {layer} | {LayerStatistic(v, longest, layer, m => m.Entropy).Format("F3")} | " +
                        $"{LayerStatistic(v, longest, layer, m => m.UniformEntropy).Mean.ToString("F3", C)} | {LayerStatistic(v, longest, layer, m => m.FarMass).Format("F3")} | " +
                        $"{LayerStatistic(v, longest, layer, m => m.SinkMass).Format("F3")} |");
            sb.AppendLine();
            for (int layer = 0; layer < st.Layers; layer++) sb.AppendLine($"![layer {layer} attention against evaluation length](attention-l{layer}.png)");
            sb.AppendLine();
        }

        sb.AppendLine("| trained attention | seed | final train loss | val loss at L | ms/step |");
        sb.AppendLine("| --- | ---: | ---: | ---: | ---: |");
        foreach (var t in Training) sb.AppendLine(C, $"| {t.Label} | {t.Seed} | {t.TrainLoss:F4} | {t.ValidationLoss:F4} | {t.MsPerStep:F1} |");
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>The console table: loss per length and the longest/shortest ratio, mean ± sd over seeds.</summary>
    public void PrintTable()
    {
        // Output to a file or a pipe has no width to respect: let the tables take the width they need rather than
        // wrapping every cell at the 80 columns Spectre assumes there (COLUMNS, when set, still decides).
        var profile = AnsiConsole.Console.Profile;
        int width = profile.Width;
        if (Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("COLUMNS")))
            profile.Width = Math.Max(width, 160);
        try { PrintTables(); }
        finally { profile.Width = width; }
    }

    private void PrintTables()
    {
        var table = new Table().Title("val loss (nats/token)").AddColumn(new TableColumn("variant").NoWrap());
        foreach (int l in lengths) table.AddColumn(new TableColumn(l.ToString(C)).RightAligned().NoWrap());
        table.AddColumn(new TableColumn($"{lengths[^1] / context}×L / {lengths[0] / context}×L").RightAligned().NoWrap());
        if (seeds.Length > 1) table.Caption($"mean ± sd over seeds {string.Join(", ", seeds)}");
        foreach (var v in variants)
            table.AddRow([Markup.Escape(v.Name), .. lengths.Select(l => Loss(v, l).Format("F4")), Ratio(v).Format("F3")]);
        AnsiConsole.Write(table);
        var bits = new Table().Title("bits per byte").AddColumn(new TableColumn("variant").NoWrap());
        foreach (int l in lengths) bits.AddColumn(new TableColumn(l.ToString(C)).RightAligned().NoWrap());
        foreach (var v in variants)
            bits.AddRow([Markup.Escape(v.Name), .. lengths.Select(l => BitsPerByte(v, l).Format("F4"))]);
        AnsiConsole.Write(bits);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^attention-l\d+\.(png|svg)$")]
    private static partial System.Text.RegularExpressions.Regex StaleLayerPlot();
}
