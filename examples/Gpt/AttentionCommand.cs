using System.ComponentModel;
using System.Globalization;
using System.Text;
using Engine.Autograd;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Training;
using ScottPlot;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>gpt attention</c>: looks inside a trained model's attention. Prints, per layer and head, the mean entropy of the
/// attention rows grouped by how many keys they see (up to 16× the training context), next to log n, the entropy of
/// uniform attention; writes it as entropy.csv, and saves one attention-map heatmap per layer and head for a prompt.
/// The re-weighting of LSSAR (Gao &amp; Spratling, arXiv 2501.13428) shows up as low, length-independent entropy.
/// </summary>
internal sealed class AttentionCommand : Command<AttentionCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--checkpoint <DIR>"), Description("A run directory (its latest checkpoint) or a checkpoint directory")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--inference-attention <NAME>"), Description("Look at another attention with the same weights: " + AttentionNames.Names)]
        public string? InferenceAttention { get; init; }

        [CommandOption("--power <P>"), Description("Exponent p of the re-weighting for --inference-attention"), DefaultValue(15.0)]
        public double Power { get; init; } = 15;

        [CommandOption("--factors <LIST>"), Description("Row-length buckets, as multiples of the training context: entropy is averaged over rows with (previous, this]·L keys"), DefaultValue("1,2,4,8,16")]
        public string Factors { get; init; } = "1,2,4,8,16";

        [CommandOption("--windows <N>"), Description("Validation windows (of the longest length) the entropies are averaged over"), DefaultValue(2)]
        public int Windows { get; init; } = 2;

        [CommandOption("--prompt <TEXT>"), Description("Text for the attention maps (default: the start of the validation text, 2× the training context)")]
        public string? Prompt { get; init; }

        [CommandOption("--out <DIR>"), Description("Where entropy.csv and the heatmaps go"), DefaultValue("runs/attention")]
        public string Out { get; init; } = "runs/attention";

        [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
        public int Threads { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint is required")
            : Windows < 1 ? ValidationResult.Error("--windows must be positive")
            : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Threads > 0) EngineThreads.Count = s.Threads;
        var c = CultureInfo.InvariantCulture;
        var loaded = GptCheckpoint.Load(s.Checkpoint, s.InferenceAttention is null ? null
            : cfg => cfg with { InferenceAttention = AttentionNames.Parse(s.InferenceAttention, s.Power, cfg.ContextLength) });
        var model = loaded.Model;
        model.Eval();
        var config = model.Config;
        int L = config.ContextLength;
        var factors = ExtrapolateCommand.ParseFactors(s.Factors);
        int longest = factors[^1] * L;
        var data = TextDataset.Load(loaded.Checkpoint.Metadata.Data, loaded.Tokenizer);
        Directory.CreateDirectory(s.Out);
        string attention = (config.InferenceAttention ?? config.Attention).Label;
        Console.WriteLine($"checkpoint {loaded.Checkpoint.Directory}: {config.Layers} layers, {config.Heads} heads, trained at L = {L} with {config.Attention.Label}; looking at {attention}");

        using var _ = new NoGrad();
        // ---- entropy against row length
        int windows = Math.Min(s.Windows, (data.Validation.Length - 1) / longest);
        if (windows < 1) throw new ArgumentException($"the validation text ({data.Validation.Length} tokens) is shorter than one window of {longest}");
        var ids = new int[windows * longest];
        Array.Copy(data.Validation, ids, ids.Length);
        var maps = AttentionMaps(model, Tensor.FromArray<int>(ids, [windows, longest]));
        var bounds = new[] { 0 }.Concat(factors.Select(f => f * L)).ToArray();
        var csv = new StringBuilder("layer,head,keys_from,keys_to,mean_entropy,uniform_entropy\n");
        for (int layer = 0; layer < config.Layers; layer++)
        {
            var table = new Table().Title($"layer {layer}: mean attention entropy (nats) by keys seen").AddColumn("head");
            for (int bk = 1; bk < bounds.Length; bk++) table.AddColumn(new TableColumn($"{bounds[bk - 1] + 1}–{bounds[bk]}").RightAligned());
            var w = maps[layer];                                           // [windows, H, T, T]
            var uniform = new string[bounds.Length - 1];
            for (int head = 0; head < config.Heads; head++)
            {
                var cells = new List<string> { head.ToString(c) };
                for (int bk = 1; bk < bounds.Length; bk++)
                {
                    double sum = 0, logN = 0; int count = 0;
                    for (int win = 0; win < windows; win++)
                        for (int row = bounds[bk - 1]; row < bounds[bk]; row++)
                        {
                            sum += RowEntropy(w, config.Heads, win, head, row, longest);
                            logN += Math.Log(row + 1);
                            count++;
                        }
                    cells.Add((sum / count).ToString("F3", c));
                    uniform[bk - 1] = (logN / count).ToString("F3", c);
                    csv.Append(c, $"{layer},{head},{bounds[bk - 1] + 1},{bounds[bk]},{sum / count:R},{logN / count:R}\n");
                }
                table.AddRow(cells.ToArray());
            }
            table.AddRow(["uniform (log n)", .. uniform]);
            AnsiConsole.Write(table);
        }
        File.WriteAllText(Path.Combine(s.Out, "entropy.csv"), csv.ToString());

        // ---- attention maps for a prompt
        var promptIds = s.Prompt is null ? data.Validation.AsSpan(0, Math.Min(2 * L, data.Validation.Length)).ToArray() : loaded.Tokenizer.Encode(s.Prompt);
        if (promptIds.Length == 0) throw new ArgumentException("--prompt: empty prompt");
        var promptMaps = AttentionMaps(model, Tensor.FromArray<int>(promptIds, [1, promptIds.Length]));
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
                plot.SavePng(Path.Combine(s.Out, $"attention-l{layer}-h{head}.png"), 640, 560);
            }
        Console.WriteLine($"wrote {Path.Combine(s.Out, "entropy.csv")} and {config.Layers * config.Heads} heatmaps (attention-l*-h*.png) for a {t}-character prompt");
        return 0;
    }

    /// <summary>−Σ_j w_ij ln w_ij of row <paramref name="row"/> of one head's [T, T] map in a [windows, heads, T, T] array.</summary>
    private static double RowEntropy(float[] w, int heads, int window, int head, int row, int t)
    {
        int start = ((window * heads + head) * t + row) * t;
        double h = 0;
        for (int j = 0; j <= row; j++)
        {
            double p = w[start + j];
            if (p > 0) h -= p * Math.Log(p);
        }
        return h;
    }

    /// <summary>
    /// The final attention weights of every layer, [B, H, T, T] row-major per layer, for token ids [B, T]: the
    /// model's own modules run one by one (embedding, then per block norm1 → qkv → RoPE → the attention weights, and
    /// the block itself to move on). The recomputed logits are checked against <see cref="Engine.Nn.Gpt.Forward"/>.
    /// </summary>
    private static List<float[]> AttentionMaps(Engine.Nn.Gpt model, Tensor tokens)
    {
        var config = model.Config;
        int b = tokens.Dim(0), t = tokens.Dim(1), h = config.Heads, d = config.HeadDim;
        Module Child(Module m, string name) => m.Children().First(x => x.Name == name).Module;
        var x = ((Layer)Child(model, "token_embedding")).Forward(tokens);
        if (config.PositionEmbedding == PositionEmbedding.Learned)
            x = x.Add(((Embedding)Child(model, "position_embedding")).Weight.Narrow(0, 0, t));
        var rope = config.PositionEmbedding == PositionEmbedding.Rope ? new RotaryEmbedding(d, config.RopeBase) : null;
        var maps = new List<float[]>();
        foreach (var block in model.Blocks)
        {
            var hIn = ((Layer)Child(block, "norm1")).Forward(x);
            var parts = ((Linear)Child(block.Attention, "qkv")).Forward(hIn).Reshape(b, t, 3, h, d).Permute(2, 0, 3, 1, 4);
            Tensor q = parts.Select(0, 0), k = parts.Select(0, 1);
            if (rope is not null) { q = rope.Forward(q); k = rope.Forward(k); }
            maps.Add(Tensor.CausalAttentionWeights(q, k, block.Attention.ActiveAttention).To(DType.Float32).ToArray<float>());
            x = block.Forward(x, rope);
        }
        // Self-check: the same computation must give the model's logits.
        x = ((Layer)Child(model, "norm")).Forward(x);
        var head = model.Children().Any(m => m.Name == "lm_head") ? ((Linear)Child(model, "lm_head")).Weight : ((Embedding)Child(model, "token_embedding")).Weight;
        var logits = x.Reshape(b * t, config.ModelDim).MatMul(head.T).ToDoubleArray();
        var expected = model.Forward(tokens).ToDoubleArray();
        double worst = 0;
        for (int i = 0; i < logits.Length; i++) worst = Math.Max(worst, Math.Abs(logits[i] - expected[i]));
        if (!(worst <= 1e-3))
            throw new InvalidOperationException($"attention: recomputing the model layer by layer disagrees with its forward pass (max |Δlogit| = {worst:G3})");
        return maps;
    }
}
