using System.ComponentModel;
using System.Globalization;
using System.Text;
using Engine.Nn;
using Engine.Nn.Data;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>gpt extrapolate</c>: the length-extrapolation experiment of Gao &amp; Spratling (arXiv 2501.13428). Every variant is
/// trained at context L with the same seed, data and hyper-parameters, then scored on the same validation tokens with
/// windows of factor × L. Writes results.csv, results.md and a plot (results.png, results.svg) to --out, and each
/// trained model (checkpoint and log.csv) under --out/runs/.
/// </summary>
internal sealed class ExtrapolateCommand : Command<ExtrapolateCommand.Settings>
{
    public const string DefaultVariants = "softmax,lssa,lssar,lssa+r@eval,softplus-l1,softmax-r";

    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--variants <LIST>"), Description("Comma-separated variants: " + AttentionNames.Names + "; NAME+r@eval trains NAME and re-weights only at evaluation"), DefaultValue(DefaultVariants)]
        public string Variants { get; init; } = DefaultVariants;

        [CommandOption("--factors <LIST>"), Description("Evaluation lengths as multiples of L"), DefaultValue("1,2,4,8,16")]
        public string Factors { get; init; } = "1,2,4,8,16";

        [CommandOption("--eval-tokens <N>"), Description("Validation tokens scored at every length (the same tokens at all lengths)"), DefaultValue(16384)]
        public int EvalTokens { get; init; } = 16384;

        [CommandOption("--batch-tokens <N>"), Description("Upper bound on tokens per evaluation forward pass (memory)"), DefaultValue(8192)]
        public int BatchTokens { get; init; } = 8192;

        [CommandOption("--out <DIR>"), Description("Output directory"), DefaultValue("runs/extrapolate")]
        public string Out { get; init; } = "runs/extrapolate";

        public override ValidationResult Validate()
        {
            if (EvalTokens < 1 || BatchTokens < 1) return ValidationResult.Error("--eval-tokens and --batch-tokens must be positive");
            return base.Validate();
        }
    }

    /// <summary>One curve of the experiment: the attention it trains with and the one it is evaluated with.</summary>
    internal sealed record Variant(string Name, AttentionSpec Train, AttentionSpec Eval);

    /// <summary>Parses "softmax,lssa,lssa+r@eval,…"; NAME+r@eval trains NAME and evaluates it with re-weighting.</summary>
    internal static List<Variant> ParseVariants(string list, double power, int window)
    {
        var result = new List<Variant>();
        foreach (var raw in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string name = raw.ToLowerInvariant();
            const string evalOnly = "+r@eval";
            bool atEval = name.EndsWith(evalOnly, StringComparison.Ordinal);
            var train = AttentionNames.Parse(atEval ? name[..^evalOnly.Length] : name, power, window);
            if (atEval && train.Reweight)
                throw new ArgumentException($"--variants: '{raw}' already re-weights in training; '+r@eval' applies to a variant without re-weighting");
            var eval = atEval ? train with { Reweight = true, Power = power } : train;
            if (result.Any(v => v.Name == name)) throw new ArgumentException($"--variants: '{raw}' is listed twice");
            result.Add(new Variant(name, train, eval));
        }
        if (result.Count == 0) throw new ArgumentException("--variants: no variant given");
        return result;
    }

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
        var variants = ParseVariants(s.Variants, s.Power, s.SlidingWindow);
        var factors = ParseFactors(s.Factors);
        var lengths = factors.Select(f => checked(f * s.Context)).ToArray();
        if (s.Threads > 0) EngineThreads.Count = s.Threads;
        var data = s.OpenData();
        // One span, a multiple of the longest window, so every length scores exactly the same validation tokens.
        int longest = lengths.Max();
        int span = (int)Math.Min((long)Math.Max(1, (s.EvalTokens + longest - 1) / longest) * longest, (data.Validation.Length - 1) / longest * (long)longest);
        if (span < longest)
            throw new ArgumentException($"the validation text ({data.Validation.Length:N0} tokens) is shorter than one window of {longest} (+1)");
        Directory.CreateDirectory(s.Out);

        var modelConfig = s.ModelConfig();
        var trainerConfig = s.TrainerConfig(evalInterval: Math.Max(1, s.Steps / 5), evalTokens: Math.Min(8192, span));
        Console.WriteLine($"data {data.Source} ({data.Train.Length:N0} train / {data.Validation.Length:N0} validation tokens, vocabulary {data.Tokenizer.VocabSize})");
        Console.WriteLine($"model {s.Layers} layers, {s.Heads} heads, d_model {s.Dim}; train at L = {s.Context} for {s.Steps} steps (batch {s.Batch}, seed {s.Seed}); evaluate at {string.Join(", ", lengths)} on the same {span:N0} validation tokens; {EngineThreads.Count} threads");

        var rows = new List<(Variant Variant, int Length, double Loss, long Tokens)>();
        var training = new Dictionary<string, (double TrainLoss, double ValLoss, double MsPerStep)>();
        // Variants that train the same attention share one trained model.
        foreach (var group in variants.GroupBy(v => v.Train.Label))
        {
            cancellation.ThrowIfCancellationRequested();
            var spec = group.First().Train;
            string runDir = Path.Combine(s.Out, "runs", spec.Label);
            if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
            AnsiConsole.MarkupLine($"[bold]training {Markup.Escape(spec.Label)}[/] → {Markup.Escape(runDir)}");
            var trainer = new Trainer(modelConfig with { Attention = spec }, trainerConfig, data, runDir);
            var summary = ProgressDisplay.Run(trainer, cancellation);
            if (summary.Steps < trainerConfig.Steps) throw new OperationCanceledException("extrapolate: interrupted");
            training[spec.Label] = (summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep);
            Console.WriteLine(string.Format(c, "  {0}: train loss {1:F4}, val loss {2:F4}, {3:F1} ms/step", spec.Label, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep));
            foreach (var variant in group)
            {
                var model = trainer.Model;
                if (variant.Eval != variant.Train)
                {
                    // Same weights, another attention at evaluation time only.
                    model = new Engine.Nn.Gpt(trainer.Model.Config with { InferenceAttention = variant.Eval });
                    model.LoadStateDict(trainer.Model.StateDict());
                }
                foreach (int length in lengths)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var ev = new Evaluator(data.Validation, length, span, s.BatchTokens);
                    double loss = ev.Evaluate(model);
                    rows.Add((variant, length, loss, ev.ScoredTokens));
                    Console.WriteLine(string.Format(c, "  {0,-14} eval length {1,6}: val loss {2:F4}", variant.Name, length, loss));
                }
            }
        }

        WriteCsv(Path.Combine(s.Out, "results.csv"), rows, s.Context);
        WriteMarkdown(Path.Combine(s.Out, "results.md"), rows, variants, lengths, s, data, span, training);
        ResultsPlot.Save(Path.Combine(s.Out, "results"), variants.Select(v => v.Name).ToList(), lengths,
            (name, length) => rows.First(r => r.Variant.Name == name && r.Length == length).Loss, s.Context);
        PrintTable(rows, variants, lengths);
        Console.WriteLine($"wrote {Path.Combine(s.Out, "results.csv")}, results.md, results.png, results.svg");
        return 0;
    }

    private static void WriteCsv(string path, List<(Variant Variant, int Length, double Loss, long Tokens)> rows, int context)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("variant,train_len,eval_len,val_loss,tokens\n");
        foreach (var r in rows) sb.Append(c, $"{r.Variant.Name},{context},{r.Length},{r.Loss:R},{r.Tokens}\n");
        File.WriteAllText(path, sb.ToString());
    }

    private static void WriteMarkdown(string path, List<(Variant Variant, int Length, double Loss, long Tokens)> rows, List<Variant> variants, int[] lengths,
        Settings s, TextDataset data, int span, Dictionary<string, (double TrainLoss, double ValLoss, double MsPerStep)> training)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Length extrapolation: validation loss against evaluation length");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine("gpt " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a)));
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Format(c, "Data: {0} ({1:N0} train / {2:N0} validation tokens). Model: {3} layers, {4} heads, d_model {5}, RoPE. " +
            "Trained at L = {6} for {7} steps, batch {8}, seed {9}, lr {10:G3} → {11:G3}. Every length scores the same {12:N0} validation tokens " +
            "(windows of the given length tiled back to back). Loss in nats per character; {13} CPU threads.",
            data.Source, data.Train.Length, data.Validation.Length, s.Layers, s.Heads, s.Dim, s.Context, s.Steps, s.Batch, s.Seed,
            s.LearningRate, Math.Min(s.MinLearningRate, s.LearningRate), span, EngineThreads.Count));
        sb.AppendLine();
        sb.Append("| variant (train → eval attention) |");
        foreach (int l in lengths) sb.Append(c, $" {l} ({l / s.Context}×L) |");
        sb.AppendLine($" {lengths[^1] / s.Context}×L / 1×L |");
        sb.Append("| --- |");
        foreach (var _ in lengths) sb.Append(" ---: |");
        sb.AppendLine(" ---: |");
        foreach (var v in variants)
        {
            sb.Append(c, $"| {v.Name} ({v.Train.Label} → {v.Eval.Label}) |");
            double first = double.NaN, last = double.NaN;
            foreach (int l in lengths)
            {
                double loss = rows.First(r => r.Variant == v && r.Length == l).Loss;
                if (double.IsNaN(first)) first = loss;
                last = loss;
                sb.Append(c, $" {loss:F4} |");
            }
            sb.AppendLine(c, $" {last / first:F3} |");
        }
        sb.AppendLine();
        sb.AppendLine("| trained attention | final train loss | val loss at L | ms/step |");
        sb.AppendLine("| --- | ---: | ---: | ---: |");
        foreach (var (label, t) in training) sb.AppendLine(c, $"| {label} | {t.TrainLoss:F4} | {t.ValLoss:F4} | {t.MsPerStep:F1} |");
        sb.AppendLine();
        sb.AppendLine("![validation loss against evaluation length](results.png)");
        File.WriteAllText(path, sb.ToString());
    }

    private static void PrintTable(List<(Variant Variant, int Length, double Loss, long Tokens)> rows, List<Variant> variants, int[] lengths)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().AddColumn("variant");
        foreach (int l in lengths) table.AddColumn(new TableColumn(l.ToString(c)).RightAligned());
        foreach (var v in variants)
            table.AddRow([v.Name, .. lengths.Select(l => rows.First(r => r.Variant == v && r.Length == l).Loss.ToString("F4", c))]);
        AnsiConsole.Write(table);
    }
}
