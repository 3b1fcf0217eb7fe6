using System.ComponentModel;
using System.Globalization;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Diagnostics;
using Engine.Nn.Evaluation;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>gpt extrapolate</c>: the length-extrapolation experiment of Gao &amp; Spratling (arXiv 2501.13428). Every variant is
/// trained at context L with the same data and hyper-parameters, once per seed, then scored on the same validation
/// tokens with windows of factor × L: loss overall and by position, and attention statistics. Writes results.csv,
/// positions.csv, attention.csv, results.md, plots and report.html (all of it on one page) to --out (see docs/extrapolation.md), and each trained model
/// (checkpoint and log.csv) under --out/runs/&lt;attention&gt;/seed-&lt;s&gt;/.
/// </summary>
internal sealed class ExtrapolateCommand : Command<ExtrapolateCommand.Settings>
{
    public const string DefaultVariants = "softmax,lssa,lssar,lssa+r@eval,softplus-l1,softmax-r";

    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--variants <LIST>"), Description("Comma-separated variants: " + AttentionNames.Names + "; NAME+r@eval trains NAME and re-weights only at evaluation; NAME+pi@eval evaluates with RoPE position interpolation (positions divided by eval length / L)"), DefaultValue(DefaultVariants)]
        public string Variants { get; init; } = DefaultVariants;

        [CommandOption("--factors <LIST>"), Description("Evaluation lengths as multiples of L"), DefaultValue("1,2,4,8,16")]
        public string Factors { get; init; } = "1,2,4,8,16";

        [CommandOption("--eval-tokens <N>"), Description("Validation tokens scored at every length (the same tokens at all lengths)"), DefaultValue(16384)]
        public int EvalTokens { get; init; } = 16384;

        [CommandOption("--batch-tokens <N>"), Description("Upper bound on tokens per evaluation forward pass (memory)"), DefaultValue(8192)]
        public int BatchTokens { get; init; } = 8192;

        [CommandOption("--seeds <LIST>"), Description("Comma-separated seeds: every variant is trained once per seed (overrides --seed); tables show mean ± sd")]
        public string? Seeds { get; init; }

        [CommandOption("--attention-tokens <N>"), Description("Validation tokens (at least one window per length) for the attention statistics in attention.csv; 0: off"), DefaultValue(4096)]
        public int AttentionTokens { get; init; } = 4096;

        [CommandOption("--sink <N>"), Description("First window positions counted as the attention sink"), DefaultValue(4)]
        public int Sink { get; init; } = 4;

        [CommandOption("--out <DIR>"), Description("Output directory"), DefaultValue("runs/extrapolate")]
        public string Out { get; init; } = "runs/extrapolate";

        public override ValidationResult Validate()
        {
            if (EvalTokens < 1 || BatchTokens < 1) return ValidationResult.Error("--eval-tokens and --batch-tokens must be positive");
            if (AttentionTokens < 0) return ValidationResult.Error($"--attention-tokens must be 0 (off) or positive, got {AttentionTokens}");
            if (Sink < 0) return ValidationResult.Error($"--sink must be non-negative, got {Sink}");
            return NotAFile("--out", Out) ?? base.Validate();
        }
    }

    /// <summary>
    /// One curve of the experiment: the attention it trains with, the one it is evaluated with, and whether RoPE
    /// positions are interpolated at evaluation (divided by eval length / L beyond L).
    /// </summary>
    internal sealed record Variant(string Name, AttentionSpec Train, AttentionSpec Eval, bool Interpolate = false)
    {
        /// <summary>The trained model, or the same weights with this variant's attention at evaluation time.</summary>
        public Engine.Nn.Gpt ForEvaluation(Engine.Nn.Gpt trained) =>
            Eval == Train ? trained : WithConfig(trained, trained.Config with { InferenceAttention = Eval });

        /// <summary>
        /// The model to score windows of <paramref name="length"/> with: with position interpolation beyond L, the
        /// same weights with RoPE positions divided by length / L (their angles squeezed into those of 0 … L−1).
        /// </summary>
        public Engine.Nn.Gpt AtLength(Engine.Nn.Gpt model, int length, int context) =>
            Interpolate && length > context ? WithConfig(model, model.Config with { InferenceRopeScale = (double)length / context }) : model;

        private static Engine.Nn.Gpt WithConfig(Engine.Nn.Gpt model, GptConfig config)
        {
            var copy = new Engine.Nn.Gpt(config);
            copy.To(model.Device);
            copy.LoadStateDict(model.StateDict());
            return copy;
        }
    }

    /// <summary>
    /// Parses "softmax,lssa,lssa+r@eval,lssar+pi@eval,…": NAME+r@eval trains NAME and evaluates it with re-weighting;
    /// NAME+pi@eval evaluates it with RoPE position interpolation (positions divided by eval length / L); both may be given.
    /// </summary>
    internal static List<Variant> ParseVariants(string list, TrainingSettings settings)
    {
        var result = new List<Variant>();
        foreach (var raw in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string name = raw.ToLowerInvariant(), baseName = name;
            bool reweightAtEval = false, interpolate = false;
            for (bool more = true; more;)
            {
                more = false;
                if (baseName.EndsWith(ReweightAtEval, StringComparison.Ordinal)) { reweightAtEval = more = true; baseName = baseName[..^ReweightAtEval.Length]; }
                if (baseName.EndsWith(InterpolateAtEval, StringComparison.Ordinal)) { interpolate = more = true; baseName = baseName[..^InterpolateAtEval.Length]; }
            }
            var train = settings.ParseAttention(baseName);
            if (reweightAtEval && train.Reweight)
                throw new ArgumentException($"--variants: '{raw}' already re-weights in training; '{ReweightAtEval}' applies to a variant without re-weighting");
            var eval = reweightAtEval ? train with { Reweight = true, Power = settings.Power } : train;
            // A window of at least L hides no key of a training window, so such a variant trains exactly as its
            // full-context base does: it shares that model and applies the window at evaluation only.
            if (train.Window is int w && w >= settings.Context) train = train with { Window = null };
            if (result.Any(v => v.Name == name)) throw new ArgumentException($"--variants: '{raw}' is listed twice");
            result.Add(new Variant(name, train, eval, interpolate));
        }
        if (result.Count == 0) throw new ArgumentException("--variants: no variant given");
        return result;
    }

    private const string ReweightAtEval = "+r@eval", InterpolateAtEval = "+pi@eval";

    internal static int[] ParseFactors(string list)
    {
        var result = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int f) || f < 1)
                throw new ArgumentException($"--factors: '{part}' is not a positive integer");
            result.Add(f);
        }
        if (result.Count == 0) throw new ArgumentException("--factors: no factor given");
        return result.Distinct().Order().ToArray();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var c = CultureInfo.InvariantCulture;
        var variants = ParseVariants(s.Variants, s);
        if (variants.FirstOrDefault(v => v.Interpolate) is { } pi && s.ModelConfig().PositionEmbedding != PositionEmbedding.Rope)
            throw new ArgumentException($"--variants: '{pi.Name}' interpolates RoPE positions, but --positions is {s.Positions}");
        var factors = ParseFactors(s.Factors);
        var seeds = s.Seeds is null ? [s.Seed] : SeedList.Parse(s.Seeds);
        var lengths = factors.Select(f => checked(f * s.Context)).ToArray();
        var data = s.OpenData();
        // One span, a multiple of the longest window, so every length scores exactly the same validation tokens.
        int longest = lengths.Max();
        int span = (int)Math.Min((long)Math.Max(1, (s.EvalTokens + longest - 1) / longest) * longest, (data.Validation.Length - 1) / longest * (long)longest);
        if (span < longest)
            throw new ArgumentException($"the validation text ({data.Validation.Length:N0} tokens) is shorter than one window of {longest} (+1)");
        Directory.CreateDirectory(s.Out);

        var modelConfig = s.ModelConfig();
        var trainerConfig = s.TrainerConfig(evalInterval: Math.Max(1, s.Steps / 5), evalTokens: Math.Min(8192, span));
        string seedText = seeds.Length == 1 ? $"seed {seeds[0]}" : $"seeds {string.Join(", ", seeds)}";
        Console.WriteLine($"data {data.Source} ({data.Train.Length:N0} train / {data.Validation.Length:N0} validation tokens, vocabulary {data.Tokenizer.VocabSize}; {TrainingSettings.DescribeTokens(data)})");
        Console.WriteLine($"model {s.Layers} layers, {s.Heads} heads, d_model {s.Dim}; train at L = {s.Context} for {s.Steps} steps (batch {s.Batch}, {seedText}); evaluate at {string.Join(", ", lengths)} on the same {span:N0} validation tokens; {EngineThreads.Count} threads");

        var report = new ExtrapolationReport(variants, lengths, seeds, s.Context);
        var groups = variants.GroupBy(v => v.Train.Label).ToList();
        foreach (var group in groups)
        {
            string labelDir = Path.Combine(s.Out, "runs", group.Key);
            if (Directory.Exists(labelDir)) Directory.Delete(labelDir, recursive: true);
        }
        foreach (ulong seed in seeds)
            // Variants that train the same attention share one trained model per seed.
            foreach (var group in groups)
            {
                cancellation.ThrowIfCancellationRequested();
                var spec = group.First().Train;
                string runDir = Path.Combine(s.Out, "runs", spec.Label, $"seed-{seed}");
                AnsiConsole.MarkupLine($"[bold]training {Markup.Escape(spec.Label)}, seed {seed}[/] → {Markup.Escape(runDir)}");
                var trainer = new Trainer(modelConfig with { Attention = spec }, trainerConfig with { Seed = seed }, data, runDir);
                var summary = ProgressDisplay.Run(trainer, cancellation);
                if (summary.Steps < trainerConfig.Steps) throw new OperationCanceledException("extrapolate: interrupted");
                report.Training.Add(new(spec.Label, seed, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep));
                Console.WriteLine(string.Format(c, "  {0}: train loss {1:F4}, val loss {2:F4}, {3:F1} ms/step", spec.Label, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep));
                foreach (var variant in group)
                {
                    var model = variant.ForEvaluation(trainer.Model);
                    foreach (int length in lengths)
                        Evaluate(report, variant, seed, variant.AtLength(model, length, s.Context), data, length, span, s, cancellation);
                }
            }

        report.WriteResultsCsv(Path.Combine(s.Out, "results.csv"));
        report.WritePositionsCsv(Path.Combine(s.Out, "positions.csv"));
        string attentionCsv = Path.Combine(s.Out, "attention.csv");
        if (report.Attention.Count > 0) report.WriteAttentionCsv(attentionCsv);
        else File.Delete(attentionCsv);   // a stale one from an earlier run with statistics on
        var plots = report.SavePlots(s.Out);
        report.WriteMarkdown(Path.Combine(s.Out, "results.md"), string.Format(c,
            "Data: {0} ({1:N0} train / {2:N0} validation tokens). Model: {3} layers, {4} heads, d_model {5}, positions {14}. " +
            "Trained at L = {6} for {7} steps, batch {8}, {9}, lr {10:G3} → {11:G3}. Every length scores the same {12:N0} validation tokens " +
            "(windows of the given length tiled back to back). Tokenizer {15}; loss in nats per token, bits per byte = summed loss / (ln 2 · UTF-8 bytes of the scored tokens); {13} CPU threads.",
            data.Source, data.Train.Length, data.Validation.Length, s.Layers, s.Heads, s.Dim, s.Context, s.Steps, s.Batch, seedText,
            s.LearningRate, Math.Min(s.MinLearningRate, s.LearningRate), span, EngineThreads.Count,
            s.ModelConfig().PositionEmbedding == PositionEmbedding.Rope ? $"RoPE (base {s.RopeBase:G})" : AttentionNames.Name(s.ModelConfig().PositionEmbedding),
            data.Tokenizer.Describe()));
        HtmlReport.Write(Path.Combine(s.Out, "report.html"), Path.Combine(s.Out, "results.md"));
        report.PrintTable();
        string attention = report.Attention.Count > 0 ? ", attention.csv" : "";
        Console.WriteLine($"wrote {Path.Combine(s.Out, "results.csv")}, positions.csv{attention}, results.md, report.html, {string.Join(", ", plots)}");
        return 0;
    }

    /// <summary>Scores one variant at one length (loss by position) and, unless switched off, measures its attention.</summary>
    private static void Evaluate(ExtrapolationReport report, Variant variant, ulong seed, Engine.Nn.Gpt model, TextDataset data, int length, int span, Settings s, CancellationToken cancellation)
    {
        cancellation.ThrowIfCancellationRequested();
        var c = CultureInfo.InvariantCulture;
        var ev = new Evaluator(data.Validation, length, span, s.BatchTokens, data.ValidationBytes);
        var result = ev.EvaluateByPosition(model);
        report.Losses.Add(new(variant, seed, length, result, ev.ScoredTokens));
        string line = string.Format(c, "  {0,-14} eval length {1,6}: val loss {2:F4}, {3:F4} bits/byte", variant.Name, length, result.MeanLoss, result.BitsPerByte);
        if (s.AttentionTokens > 0)
        {
            cancellation.ThrowIfCancellationRequested();
            // The first windows of the scored span, at least one.
            int windows = Math.Clamp(s.AttentionTokens / length, 1, span / length);
            var stats = AttentionStatistics.Measure(model, data.Validation, length, windows,
                new AttentionStatisticsOptions { FarDistance = s.Context, SinkTokens = s.Sink, MaxBatchTokens = s.BatchTokens });
            report.Attention.Add(new(variant, seed, length, stats));
            var last = stats.LayerSummary(stats.Layers - 1);
            line += string.Format(c, "; last layer: far mass {0:F3}, entropy {1:F3} (log n {2:F3})", last.FarMass, last.Entropy, last.UniformEntropy);
        }
        Console.WriteLine(line);
    }
}
