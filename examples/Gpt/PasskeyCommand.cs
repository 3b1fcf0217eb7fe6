using System.ComponentModel;
using System.Globalization;
using System.Text;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>gpt passkey</c>: the passkey-retrieval probe of Gao &amp; Spratling (arXiv 2501.13428). Each variant is trained
/// at context L with a fraction of passkey windows mixed into its batches (or a checkpoint is loaded, and optionally
/// fine-tuned the same way), then asked for the key in prompts of factor × L tokens with the key at several depths;
/// the five digits are decoded greedily with the KV cache, one prompt at a time. Writes passkey.csv, passkey.md,
/// report.html and plots (passkey.png/.svg, and a depth × length heatmap per variant) to --out; see docs/passkey.md.
/// </summary>
internal sealed class PasskeyCommand : Command<PasskeyCommand.Settings>
{
    public const string DefaultVariants = "softmax,lssa,lssar";

    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--variants <LIST>"), Description("Comma-separated variants (default " + DefaultVariants + "): " + AttentionNames.Names + "; NAME+r@eval trains NAME and re-weights only at evaluation; NAME+pi@eval evaluates with RoPE position interpolation")]
        public string? Variants { get; init; }

        [CommandOption("--passkey-fraction <F>"), Description("Fraction of training rows that are passkey windows of length L, in [[0, 1]]"), DefaultValue(0.25)]
        public double PasskeyFraction { get; init; } = 0.25;

        [CommandOption("--passkey-loss <WHAT>"), Description("What passkey rows are trained on: 'window' (next-token over the whole row) or 'answer' (only the five answer digits)"), DefaultValue("window")]
        public string PasskeyLoss { get; init; } = "window";

        [CommandOption("--template <NAME>"), Description("Prompt wording: 'paper' (\"the pass key is …\", needs L ≥ 78), 'short' (\"key …\", needs L ≥ 24), or 'auto' (paper when L allows it, else short)"), DefaultValue("auto")]
        public string Template { get; init; } = "auto";

        [CommandOption("--factors <LIST>"), Description("Evaluation window lengths as multiples of L"), DefaultValue("1,2,4,8,16")]
        public string Factors { get; init; } = "1,2,4,8,16";

        [CommandOption("--depths <LIST>"), Description("Key depths in [[0, 1]] (fraction of the filler before the key), or a count N ≥ 2 of evenly spaced depths"), DefaultValue("0,0.25,0.5,0.75,1")]
        public string Depths { get; init; } = "0,0.25,0.5,0.75,1";

        [CommandOption("--prompts <N>"), Description("Prompts per (variant, length, depth)"), DefaultValue(20)]
        public int Prompts { get; init; } = 20;

        [CommandOption("--checkpoint <DIR>"), Description("Evaluate (or fine-tune, see --finetune-steps) this model instead of training variants from scratch")]
        public string? Checkpoint { get; init; }

        [CommandOption("--finetune-steps <N>"), Description("With --checkpoint: steps of training on the passkey mix before evaluating, with the --lr, --batch, … options (0: evaluate as is)"), DefaultValue(0)]
        public int FinetuneSteps { get; init; }

        [CommandOption("--out <DIR>"), Description("Output directory"), DefaultValue("runs/passkey")]
        public string Out { get; init; } = "runs/passkey";

        public override ValidationResult Validate()
        {
            if (!(PasskeyFraction >= 0 && PasskeyFraction <= 1))
                return ValidationResult.Error($"--passkey-fraction must be in [0, 1], got {PasskeyFraction.ToString(CultureInfo.InvariantCulture)}");
            if (PasskeyLoss is not ("window" or "answer")) return ValidationResult.Error($"--passkey-loss must be 'window' or 'answer', got '{PasskeyLoss}'");
            if (Prompts < 1) return ValidationResult.Error($"--prompts must be positive, got {Prompts}");
            if (FinetuneSteps < 0) return ValidationResult.Error($"--finetune-steps must not be negative, got {FinetuneSteps}");
            if (FinetuneSteps > 0 && Checkpoint is null) return ValidationResult.Error("--finetune-steps needs --checkpoint (without one, every variant is trained from scratch for --steps)");
            if (Checkpoint is not null && Variants is not null) return ValidationResult.Error("--variants and --checkpoint exclude each other: a checkpoint is one model with its own attention");
            try
            {
                if (TokenizerKind() != Engine.Nn.Data.TokenizerKind.Char)
                    return ValidationResult.Error($"passkey needs --tokenizer char (the prompts count characters and the key is five one-digit tokens), got '{Tokenizer}'");
            }
            catch (ArgumentException e) { return ValidationResult.Error(e.Message); }
            return NotAFile("--out", Out) ?? base.Validate();
        }
    }

    /// <summary>A model to probe: its name in the tables, its attention in training and at evaluation, and how it was obtained.</summary>
    private sealed record Probed(string Name, string TrainAttention, string EvalAttention, string Origin, ExtrapolateCommand.Variant? Variant = null);

    /// <summary>One cell of the results.</summary>
    private sealed record Row(string Variant, PasskeyScore Score);

    /// <summary>"0,0.5,1" or a count "5" (≥ 2) of evenly spaced depths; sorted and distinct.</summary>
    internal static double[] ParseDepths(string list)
    {
        var c = CultureInfo.InvariantCulture;
        string trimmed = list.Trim();
        if (int.TryParse(trimmed, NumberStyles.None, c, out int count) && count >= 2)
            return Enumerable.Range(0, count).Select(i => i / (double)(count - 1)).ToArray();
        var result = new List<double>();
        foreach (var part in trimmed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, c, out double d) || !double.IsFinite(d))
                throw new ArgumentException($"--depths: '{part}' is not a number");
            if (d < 0 || d > 1) throw new ArgumentException($"--depths: {part} is outside [0, 1] (the fraction of the filler before the key)");
            result.Add(d);
        }
        if (result.Count == 0) throw new ArgumentException("--depths: no depth given");
        return result.Distinct().Order().ToArray();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var c = CultureInfo.InvariantCulture;
        var factors = ExtrapolateCommand.ParseFactors(s.Factors);
        var depths = ParseDepths(s.Depths);
        Directory.CreateDirectory(s.Out);

        var loaded = s.Checkpoint is null ? null : GptCheckpoint.Load(s.Checkpoint, device: s.Device);
        int L = loaded?.Model.Config.ContextLength ?? s.Context;
        string templateName = s.Template.Trim().ToLowerInvariant() is "auto"
            ? (L >= PasskeyTemplate.Paper.MinimumWindow ? "paper" : "short")
            : s.Template.Trim().ToLowerInvariant();
        var template = PasskeyTemplate.Named(templateName);

        TextDataset data;
        string vocabularyNote = "";
        if (loaded is not null)
        {
            // A trained embedding cannot grow new symbols: the checkpoint must already write every prompt character.
            PasskeyPrompts.RequireAlphabet(loaded.Tokenizer, $"--checkpoint {s.Checkpoint}", template);
            data = TextDataset.Load(loaded.Checkpoint.Metadata.Data, loaded.Tokenizer, maxBytes: s.MaxDataBytes);
        }
        else
        {
            data = s.OpenData();
            string missing = PasskeyPrompts.MissingCharacters(data.Tokenizer, template);
            if (missing.Length > 0)
            {
                data = data.WithTokenizer(PasskeyPrompts.WithAlphabet(data.Tokenizer, template));
                vocabularyNote = $"The corpus lacks {Quoted(missing)}, so the vocabulary was extended by them (to {data.Tokenizer.VocabSize} symbols). ";
                Console.WriteLine($"vocabulary: added {Quoted(missing)} for the passkey prompts ({data.Tokenizer.VocabSize} symbols)");
            }
        }
        var windows = factors.Select(f => checked(f * L)).ToArray();
        var trainPrompts = new PasskeyPrompts(data.Tokenizer, data.Train, template);
        var evalPrompts = new PasskeyPrompts(data.Tokenizer, data.Validation, template);
        // Fail before any training when a window cannot hold a prompt.
        bool trains = loaded is null || s.FinetuneSteps > 0;
        if (trains && s.PasskeyFraction > 0)
            CheckWindow(trainPrompts, L, "the training context L", templateName, loaded is null ? "raise --context" : "fine-tune with --passkey-fraction 0");
        CheckWindow(evalPrompts, windows[0], $"the shortest evaluation window ({factors[0]}×L)", templateName, "drop the small --factors");

        ulong mixSeed = Trainer.DeriveSeed(s.Seed, 3), promptSeed = Trainer.DeriveSeed(s.Seed, 4);
        Func<BatchSampler, IBatchSource> mix = inner => new PasskeyBatchSampler(inner, trainPrompts, s.PasskeyFraction, mixSeed, answerOnly: s.PasskeyLoss == "answer");
        Console.WriteLine($"data {data.Source} ({data.Train.Length:N0} train / {data.Validation.Length:N0} validation tokens, vocabulary {data.Tokenizer.VocabSize}); " +
            $"passkey template '{templateName}' ({template.FixedLength} fixed tokens); evaluate at {string.Join(", ", windows)} × depths {string.Join(", ", depths.Select(d => d.ToString("G3", c)))} × {s.Prompts} prompts; {EngineThreads.Count} threads");

        var models = new List<(Probed Probed, Engine.Nn.Gpt Model)>();
        var training = new List<(string Label, double TrainLoss, double ValLoss, double MsPerStep, int Steps)>();
        if (loaded is not null)
        {
            var config = loaded.Model.Config;
            string attention = (config.InferenceAttention ?? config.Attention).Label;
            var model = loaded.Model;
            string origin = $"checkpoint {loaded.Checkpoint.Directory} (step {loaded.Checkpoint.Metadata.Step})";
            if (s.FinetuneSteps > 0)
            {
                var trainerConfig = s.TrainerConfig(evalInterval: Math.Max(1, s.FinetuneSteps / 5), evalTokens: Math.Min(8192, data.Validation.Length - 1))
                    with { Steps = s.FinetuneSteps, WarmupSteps = Math.Min(s.Warmup, s.FinetuneSteps) };
                string runDir = Path.Combine(s.Out, "runs", "finetune");
                if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
                var trainer = new Trainer(config, trainerConfig, data, runDir, mix);
                trainer.Model.LoadStateDict(loaded.Model.StateDict());
                AnsiConsole.MarkupLine($"[bold]fine-tuning {Markup.Escape(attention)}[/] for {s.FinetuneSteps} steps with {s.PasskeyFraction.ToString("G3", c)} passkey rows");
                var summary = RunTraining(trainer, cancellation);
                training.Add((attention, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep, summary.Steps));
                model = trainer.Model;
                origin += $", fine-tuned {s.FinetuneSteps} steps";
            }
            models.Add((new Probed(attention, config.Attention.Label, attention, origin), model));
        }
        else
        {
            var variants = ExtrapolateCommand.ParseVariants(s.Variants ?? DefaultVariants, s);
            var trainerConfig = s.TrainerConfig(evalInterval: Math.Max(1, s.Steps / 5), evalTokens: Math.Min(8192, data.Validation.Length - 1));
            // Variants that train the same attention share one trained model.
            foreach (var group in variants.GroupBy(v => v.Train.Label))
            {
                cancellation.ThrowIfCancellationRequested();
                var spec = group.First().Train;
                string runDir = Path.Combine(s.Out, "runs", spec.Label);
                if (Directory.Exists(runDir)) Directory.Delete(runDir, recursive: true);
                AnsiConsole.MarkupLine($"[bold]training {Markup.Escape(spec.Label)}[/] → {Markup.Escape(runDir)}");
                var trainer = new Trainer(s.ModelConfig() with { Attention = spec }, trainerConfig, data, runDir, mix);
                var summary = RunTraining(trainer, cancellation);
                training.Add((spec.Label, summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep, summary.Steps));
                foreach (var variant in group)
                {
                    models.Add((new Probed(variant.Name, variant.Train.Label, variant.Eval.Label, $"trained {s.Steps} steps", variant), variant.ForEvaluation(trainer.Model)));
                }
            }
        }

        var rows = new List<Row>();
        foreach (var (probed, model) in models)
            foreach (int window in windows)
            {
                var atLength = probed.Variant?.AtLength(model, window, L) ?? model;
                var cells = depths.Select(depth =>
                    PasskeyProbe.Evaluate(atLength, evalPrompts, window, depth, s.Prompts, PasskeyProbe.PromptSeed(promptSeed, window, depth), cancellation)).ToArray();
                rows.AddRange(cells.Select(cell => new Row(probed.Name, cell)));
                Console.WriteLine(string.Format(c, "  {0,-14} window {1,6}: accuracy {2,5:F1} % (digits {3,5:F1} %) over {4} depths × {5} prompts",
                    probed.Name, window, 100 * cells.Average(x => x.Accuracy), 100 * cells.Average(x => x.DigitAccuracy), depths.Length, s.Prompts));
            }

        var names = models.Select(m => m.Probed.Name).ToList();
        double MeanAccuracy(string name, int window) => rows.Where(r => r.Variant == name && r.Score.Window == window).Average(r => r.Score.Accuracy);
        WriteCsv(Path.Combine(s.Out, "passkey.csv"), rows, models.Select(m => m.Probed).ToList(), L);
        WriteMarkdown(Path.Combine(s.Out, "passkey.md"), rows, models.Select(m => m.Probed).ToList(), windows, depths, s, L, data, templateName, template, vocabularyNote, training);
        PasskeyPlot.SaveAccuracy(Path.Combine(s.Out, "passkey"), names, windows, MeanAccuracy, L);
        foreach (var name in names)
            PasskeyPlot.SaveHeatmap(Path.Combine(s.Out, $"passkey-{FileName(name)}"), name, windows, depths,
                (w, d) => rows.First(r => r.Variant == name && r.Score.Window == w && r.Score.Depth == d).Score.Accuracy, L);
        HtmlReport.Write(Path.Combine(s.Out, "report.html"), Path.Combine(s.Out, "passkey.md"));
        PrintTable(rows, names, windows, L);
        Console.WriteLine($"wrote {Path.Combine(s.Out, "passkey.csv")}, passkey.md, report.html, passkey.png/.svg and {names.Count} heatmaps (passkey-<variant>.png/.svg)");
        return 0;
    }

    private static void CheckWindow(PasskeyPrompts prompts, int window, string what, string template, string remedy)
    {
        if (window < prompts.Template.MinimumWindow)
            throw new ArgumentException($"{what} is {window} tokens, too short for a '{template}' passkey prompt (needs at least {prompts.Template.MinimumWindow}); " +
                remedy + (template == "paper" ? ", or use --template short" : ""));
    }

    private static TrainingSummary RunTraining(Trainer trainer, CancellationToken cancellation)
    {
        var summary = ProgressDisplay.Run(trainer, cancellation);
        if (summary.Steps < trainer.Config.Steps) throw new OperationCanceledException("passkey: interrupted");
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "  train loss {0:F4}, val loss {1:F4}, {2:F1} ms/step", summary.FinalTrainLoss, summary.FinalValidationLoss, summary.MillisecondsPerStep));
        return summary;
    }

    private static string LossText(Settings s) => s.PasskeyLoss == "answer" ? "answer digits only" : "whole window";

    private static string Quoted(string chars) => string.Join(", ", chars.Select(ch => ch == ' ' ? "' '" : $"'{ch}'"));

    /// <summary>A variant name as a file-name part: letters, digits and '-' kept, anything else '_'.</summary>
    private static string FileName(string name) => new(name.Select(ch => char.IsAsciiLetterOrDigit(ch) || ch == '-' ? ch : '_').ToArray());

    private static string Csv(string field) => field.Contains(',') || field.Contains('"') ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;

    private static void WriteCsv(string path, List<Row> rows, List<Probed> probed, int context)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder("variant,train_attention,eval_attention,train_len,window,prompt_tokens,depth,correct,count,accuracy,digit_accuracy\n");
        foreach (var r in rows)
        {
            var p = probed.First(x => x.Name == r.Variant);
            var k = r.Score;
            sb.Append(c, $"{Csv(r.Variant)},{Csv(p.TrainAttention)},{Csv(p.EvalAttention)},{context},{k.Window},{k.PromptLength},{k.Depth:R},{k.Correct},{k.Count},{k.Accuracy:R},{k.DigitAccuracy:R}\n");
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    private static void WriteMarkdown(string path, List<Row> rows, List<Probed> probed, int[] windows, double[] depths, Settings s, int context,
        TextDataset data, string templateName, PasskeyTemplate template, string vocabularyNote, List<(string Label, double TrainLoss, double ValLoss, double MsPerStep, int Steps)> training)
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine("# Passkey retrieval: accuracy against window length");
        sb.AppendLine();
        sb.AppendLine("```");
        sb.AppendLine(GptApp.CommandLine);
        sb.AppendLine("```");
        sb.AppendLine();
        sb.AppendLine(string.Format(c,
            "Data: {0} ({1:N0} train / {2:N0} validation tokens). {3}Models trained at L = {4}; {5}. Prompts ('{6}' template): filler from the " +
            "validation text with \"{7}NNNNN{8}\" at the given depth and \"{9}\" at the end; a window of n characters is a prompt of n − 4 " +
            "followed by the answer, so the model reads n characters while it decodes the five digits greedily. {10} prompts per cell " +
            "(the same prompts for every variant); accuracy is exact match of all five digits, digit accuracy counts digits position by position. {11} CPU threads.",
            data.Source, data.Train.Length, data.Validation.Length, vocabularyNote, context,
            s.Checkpoint is null
                ? string.Format(c, "{0} layers, {1} heads, d_model {2}, {3} steps, batch {4}, seed {5}, with {6:G3} of the training rows passkey windows of length L (loss: {7})", s.Layers, s.Heads, s.Dim, s.Steps, s.Batch, s.Seed, s.PasskeyFraction, LossText(s))
                : probed[0].Origin + (s.FinetuneSteps > 0 ? string.Format(c, " with {0:G3} of the rows passkey windows of length L (loss: {1})", s.PasskeyFraction, LossText(s)) : ""),
            templateName, template.StatementPrefix, template.StatementSuffix, template.Question, s.Prompts, EngineThreads.Count));
        sb.AppendLine();
        Table(sb, "Exact-match accuracy (%), mean over depths", probed, windows, context, (name, w) => rows.Where(r => r.Variant == name && r.Score.Window == w).Average(r => r.Score.Accuracy));
        Table(sb, "Digit accuracy (%), mean over depths (chance: 10 %)", probed, windows, context, (name, w) => rows.Where(r => r.Variant == name && r.Score.Window == w).Average(r => r.Score.DigitAccuracy));
        sb.AppendLine("![passkey accuracy against window length](passkey.png)");
        sb.AppendLine();
        foreach (var p in probed)
        {
            sb.AppendLine(c, $"### {p.Name}: exact-match accuracy (%) by depth and length");
            sb.AppendLine();
            LengthHeader(sb, "depth", "---:", windows, context);
            foreach (double d in depths)
            {
                sb.Append(c, $"| {d:G3} |");
                foreach (int w in windows) sb.Append(c, $" {100 * rows.First(r => r.Variant == p.Name && r.Score.Window == w && r.Score.Depth == d).Score.Accuracy:F0} |");
                sb.AppendLine();
            }
            sb.AppendLine();
            sb.AppendLine(c, $"![depth × length heatmap of {p.Name}](passkey-{FileName(p.Name)}.png)");
            sb.AppendLine();
        }
        if (training.Count > 0)
        {
            sb.AppendLine("| trained attention | steps | final train loss (mixed batches) | val loss at L | ms/step |");
            sb.AppendLine("| --- | ---: | ---: | ---: | ---: |");
            foreach (var t in training) sb.AppendLine(c, $"| {t.Label} | {t.Steps} | {t.TrainLoss:F4} | {t.ValLoss:F4} | {t.MsPerStep:F1} |");
        }
        AtomicFile.WriteAllText(path, sb.ToString());
    }

    /// <summary>A Markdown table header: the first column, then one right-aligned column per window length.</summary>
    private static void LengthHeader(StringBuilder sb, string first, string firstAlign, int[] windows, int context)
    {
        var c = CultureInfo.InvariantCulture;
        sb.Append(c, $"| {first} |");
        foreach (int w in windows) sb.Append(c, $" {w} ({w / context}×L) |");
        sb.AppendLine();
        sb.Append(c, $"| {firstAlign} |");
        foreach (var _ in windows) sb.Append(" ---: |");
        sb.AppendLine();
    }

    private static void Table(StringBuilder sb, string title, List<Probed> probed, int[] windows, int context, Func<string, int, double> value)
    {
        var c = CultureInfo.InvariantCulture;
        sb.AppendLine(c, $"**{title}**");
        sb.AppendLine();
        LengthHeader(sb, "variant (train → eval attention)", "---", windows, context);
        foreach (var p in probed)
        {
            sb.Append(c, $"| {p.Name} ({p.TrainAttention} → {p.EvalAttention}) |");
            foreach (int w in windows) sb.Append(c, $" {100 * value(p.Name, w):F1} |");
            sb.AppendLine();
        }
        sb.AppendLine();
    }

    private static void PrintTable(List<Row> rows, List<string> names, int[] windows, int context)
    {
        var c = CultureInfo.InvariantCulture;
        var table = new Table().Title("passkey accuracy (%), mean over depths").AddColumn("variant");
        foreach (int w in windows) table.AddColumn(new TableColumn($"{w} ({w / context}×L)").RightAligned());
        foreach (var name in names)
            table.AddRow([Markup.Escape(name), .. windows.Select(w => (100 * rows.Where(r => r.Variant == name && r.Score.Window == w).Average(r => r.Score.Accuracy)).ToString("F1", c))]);
        AnsiConsole.Write(table);
    }
}
