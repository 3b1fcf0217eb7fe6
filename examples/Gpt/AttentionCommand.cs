using System.ComponentModel;
using System.Globalization;
using System.Text;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Diagnostics;
using Engine.Nn.Training;
using ScottPlot;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>gpt attention</c>: looks inside a trained model's attention. Prints, per layer and head, the mean entropy of the
/// attention rows grouped by how many keys they see (up to 16× the training context), next to log n, the entropy of
/// uniform attention, and the mass on keys at least L back (far) and on the first positions (sink); writes them as
/// entropy.csv, and saves one attention-map heatmap per layer and head for a prompt. The statistics come from
/// <see cref="AttentionStatistics"/>, the implementation <c>extrapolate</c> uses too.
/// The re-weighting of LSSAR (Gao &amp; Spratling, arXiv 2501.13428) shows up as low, length-independent entropy.
/// </summary>
internal sealed class AttentionCommand : Command<AttentionCommand.Settings>
{
    public sealed class Settings : EngineSettings
    {
        [CommandOption("--checkpoint <DIR>"), Description("A run directory (its latest checkpoint) or a checkpoint directory")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--rope-scale <S>"), Description("RoPE position interpolation at evaluation: positions divided by S (1: none; RoPE models only)"), DefaultValue(1.0)]
        public double RopeScale { get; init; } = 1;

        [CommandOption("--inference-attention <NAME>"), Description("Look at another attention with the same weights: " + AttentionNames.Names)]
        public string? InferenceAttention { get; init; }

        [CommandOption("--power <P>"), Description("Exponent p of the re-weighting for --inference-attention"), DefaultValue(15.0)]
        public double Power { get; init; } = 15;

        [CommandOption("--factors <LIST>"), Description("Row-length buckets, as multiples of the training context: entropy is averaged over rows with (previous, this]]·L keys"), DefaultValue("1,2,4,8,16")]
        public string Factors { get; init; } = "1,2,4,8,16";

        [CommandOption("--windows <N>"), Description("Validation windows (of the longest length) the entropies are averaged over"), DefaultValue(2)]
        public int Windows { get; init; } = 2;

        [CommandOption("--sink <N>"), Description("First window positions counted as the attention sink"), DefaultValue(4)]
        public int Sink { get; init; } = 4;

        [CommandOption("--prompt <TEXT>"), Description("Text for the attention maps (default: the start of the validation text, 2× the training context)")]
        public string? Prompt { get; init; }

        [CommandOption("--out <DIR>"), Description("Where entropy.csv and the heatmaps go"), DefaultValue("runs/attention")]
        public string Out { get; init; } = "runs/attention";


        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint is required")
            : Windows < 1 ? ValidationResult.Error("--windows must be positive")
            : Sink < 0 ? ValidationResult.Error($"--sink must be non-negative, got {Sink}")
            : NotAFile("--out", Out) ?? base.Validate();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var c = CultureInfo.InvariantCulture;
        var loaded = GptCheckpoint.Load(s.Checkpoint, AttentionNames.ForEvaluation(s.InferenceAttention, s.Power, s.RopeScale), s.Device);
        var model = loaded.Model;
        model.Eval();
        var config = model.Config;
        int L = config.ContextLength;
        var factors = ExtrapolateCommand.ParseFactors(s.Factors);
        int longest = factors[^1] * L;
        var data = TextDataset.Load(loaded.Checkpoint.Metadata.Data, loaded.Tokenizer, maxBytes: s.MaxDataBytes);
        Directory.CreateDirectory(s.Out);
        string attention = (config.InferenceAttention ?? config.Attention).Label;
        Console.WriteLine($"checkpoint {loaded.Checkpoint.Directory}: {config.Layers} layers, {config.Heads} heads, trained at L = {L} with {config.Attention.Label}; looking at {attention}");

        // ---- entropy, far mass and sink mass against row length (streamed, one implementation with extrapolate)
        int windows = Math.Min(s.Windows, data.Validation.Length / longest);
        if (windows < 1) throw new ArgumentException($"the validation text ({data.Validation.Length} tokens) is shorter than one window of {longest}");
        var stats = AttentionStatistics.Measure(model, data.Validation, longest, windows, new AttentionStatisticsOptions { FarDistance = L, SinkTokens = s.Sink });
        var bounds = new[] { 0 }.Concat(factors.Select(f => f * L)).ToArray();
        var csv = new StringBuilder("layer,head,keys_from,keys_to,mean_entropy,uniform_entropy,far_mass,sink_mass\n");
        for (int layer = 0; layer < config.Layers; layer++)
        {
            var table = new Table().Title($"layer {layer}: attention entropy (nats) by keys seen; far (≥ {L} back) and sink (first {s.Sink}) mass over all rows").AddColumn("head");
            for (int bk = 1; bk < bounds.Length; bk++) table.AddColumn(new TableColumn($"{bounds[bk - 1] + 1}–{bounds[bk]}").RightAligned());
            table.AddColumn(new TableColumn("far mass").RightAligned()).AddColumn(new TableColumn("sink mass").RightAligned());
            var uniform = new string[bounds.Length - 1];
            for (int head = 0; head < config.Heads; head++)
            {
                var cells = new List<string> { head.ToString(c) };
                for (int bk = 1; bk < bounds.Length; bk++)
                {
                    // Row i sees i + 1 keys, so rows [from, to) see from + 1 … to keys.
                    var m = stats.Summary(layer, head, bounds[bk - 1], bounds[bk]);
                    cells.Add(m.Entropy.ToString("F3", c));
                    uniform[bk - 1] = m.UniformEntropy.ToString("F3", c);
                    csv.Append(c, $"{layer},{head},{bounds[bk - 1] + 1},{bounds[bk]},{m.Entropy:R},{m.UniformEntropy:R},{m.FarMass:R},{m.SinkMass:R}\n");
                }
                var all = stats.Summary(layer, head);
                cells.Add(all.FarMass.ToString("F3", c));
                cells.Add(all.SinkMass.ToString("F3", c));
                table.AddRow(cells.ToArray());
            }
            table.AddRow(["uniform (log n)", .. uniform, "", ""]);
            AnsiConsole.Write(table);
        }
        AtomicFile.WriteAllText(Path.Combine(s.Out, "entropy.csv"), csv.ToString());

        // ---- attention maps for a prompt
        var promptIds = s.Prompt is null ? data.Validation.AsSpan(0, Math.Min(2 * L, data.Validation.Length)).ToArray() : loaded.Tokenizer.Encode(s.Prompt);
        if (promptIds.Length == 0) throw new ArgumentException("--prompt: empty prompt");
        var promptMaps = model.AttentionMaps(Tensor.FromArray<int>(promptIds, [1, promptIds.Length])).Select(w => w.To(DType.Float32).ToArray<float>()).ToArray();
        int t = promptIds.Length;
        for (int layer = 0; layer < config.Layers; layer++)
            for (int head = 0; head < config.Heads; head++)
            {
                var grid = new double[t, t];
                var values = promptMaps[layer];
                for (int i = 0; i < t; i++)
                    for (int j = 0; j < t; j++) grid[i, j] = values[((0 * config.Heads + head) * t + i) * t + j];
                var plot = new Plot();
                var heat = plot.Add.Heatmap(grid);
                heat.Colormap = new ScottPlot.Colormaps.Viridis();
                heat.FlipVertically = true;
                plot.Add.ColorBar(heat);
                plot.Title($"{attention}: layer {layer}, head {head}");
                plot.XLabel("key position j");
                plot.YLabel("query position i");
                AtomicFile.Write(Path.Combine(s.Out, $"attention-l{layer}-h{head}.png"), tmp => plot.SavePng(tmp, 640, 560));
            }
        Console.WriteLine($"wrote {Path.Combine(s.Out, "entropy.csv")} and {config.Layers * config.Heads} heatmaps (attention-l*-h*.png) for a {t}-character prompt");
        return 0;
    }
}
