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
/// <c>gpt eval</c>: validation loss of a checkpoint at several window lengths, overall and by position in the window
/// (eval-&lt;checkpoint&gt;.csv and eval-&lt;checkpoint&gt;-positions.csv; see docs/extrapolation.md).
/// </summary>
internal sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : EngineSettings
    {
        [CommandOption("--checkpoint <DIR>"), Description("A run directory (its latest checkpoint) or a checkpoint directory")]
        public string Checkpoint { get; init; } = "";

        [CommandOption("--rope-scale <S>"), Description("RoPE position interpolation at evaluation: positions divided by S (1: none; RoPE models only)"), DefaultValue(1.0)]
        public double RopeScale { get; init; } = 1;

        [CommandOption("--lengths <LIST>"), Description("Comma-separated window lengths (default: 1, 2, 4, 8 and 16 times the training context)")]
        public string? Lengths { get; init; }

        [CommandOption("--data <DATA>"), Description("Override the stored corpus: 'synthetic' or a file path (must fit the tokenizer)")]
        public string? Data { get; init; }

        [CommandOption("--eval-tokens <N>"), Description("Validation tokens scored at every length (the same tokens for all lengths)"), DefaultValue(16384)]
        public int EvalTokens { get; init; } = 16384;

        [CommandOption("--batch-tokens <N>"), Description("Upper bound on tokens per forward pass (memory)"), DefaultValue(8192)]
        public int BatchTokens { get; init; } = 8192;

        [CommandOption("--inference-attention <NAME>"), Description("Evaluate with another attention (same weights): " + AttentionNames.Names)]
        public string? InferenceAttention { get; init; }

        [CommandOption("--power <P>"), Description("Exponent p of the re-weighting for --inference-attention"), DefaultValue(15.0)]
        public double Power { get; init; } = 15;

        [CommandOption("--csv <FILE>"), Description("Where to write the CSV (default: eval-<checkpoint>.csv in the run directory)")]
        public string? Csv { get; init; }


        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint is required") : base.Validate();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        var loaded = GptCheckpoint.Load(s.Checkpoint, AttentionNames.ForEvaluation(s.InferenceAttention, s.Power, s.RopeScale), s.Device);
        var meta = loaded.Checkpoint.Metadata;
        var config = loaded.Model.Config;
        var data = s.Data is null
            ? TextDataset.Load(meta.Data, loaded.Tokenizer, maxBytes: s.MaxDataBytes)
            : TextDataset.Open(s.Data, meta.Data.Synthetic, loaded.Tokenizer, maxBytes: s.MaxDataBytes);
        var lengths = ParseLengths(s.Lengths, config.ContextLength);
        int span = Math.Max(s.EvalTokens, lengths.Max());

        Console.WriteLine($"checkpoint {loaded.Checkpoint.Directory} (step {meta.Step}, attention {(config.InferenceAttention ?? config.Attention).Label}, trained at context {config.ContextLength}; {TrainingSettings.DescribeTokens(data)})");
        var table = new Table().AddColumns("length", "× context", "val loss", "bits/byte", "windows", "tokens");
        var csv = new StringBuilder("checkpoint,step,attention,train_len,eval_len,val_loss,windows,tokens,bytes,bits_per_byte\n");
        var positionsCsv = new StringBuilder("checkpoint,step,attention,train_len,eval_len," + PositionsCsv.Columns + "\n");
        var c = CultureInfo.InvariantCulture;
        string attention = (config.InferenceAttention ?? config.Attention).Label;
        int trainLength = config.ContextLength;
        var results = new List<(int Length, EvaluationResult Result)>();
        foreach (int length in lengths)
        {
            cancellation.ThrowIfCancellationRequested();
            var ev = new Evaluator(data.Validation, length, span, s.BatchTokens, data.ValidationBytes);
            var result = ev.EvaluateByPosition(loaded.Model);
            results.Add((length, result));
            table.AddRow(length.ToString(c), (length / (double)trainLength).ToString("G3", c), result.MeanLoss.ToString("F4", c), result.BitsPerByte.ToString("F4", c),
                ev.Windows.ToString(c), ev.ScoredTokens.ToString(c));
            string prefix = string.Create(c, $"{Csv(loaded.Checkpoint.Directory)},{meta.Step},{attention},{trainLength},{length},");
            csv.Append(c, $"{prefix}{result.MeanLoss:R},{ev.Windows},{ev.ScoredTokens},{result.ScoredBytes},{result.BitsPerByte:R}\n");
            PositionsCsv.AppendRows(positionsCsv, prefix, result, trainLength);
        }
        AnsiConsole.Write(table);
        AnsiConsole.Write(BucketTable(results, trainLength));
        // Checkpoint directories are immutable (and pruned), so the CSVs go next to them, in the run directory.
        string path = s.Csv ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(loaded.Checkpoint.Directory))!, $"eval-{Path.GetFileName(loaded.Checkpoint.Directory)}.csv");
        string positionsPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, Path.GetFileNameWithoutExtension(path) + "-positions.csv");
        AtomicFile.WriteAllText(path, csv.ToString());
        AtomicFile.WriteAllText(positionsPath, positionsCsv.ToString());
        Console.WriteLine($"wrote {path} and {positionsPath}");
        return 0;
    }

    /// <summary>Mean loss by position bucket [0, L), [L, 2L), [2L, 4L), …, one row per evaluation length.</summary>
    private static Table BucketTable(List<(int Length, EvaluationResult Result)> results, int trainLength)
    {
        var c = CultureInfo.InvariantCulture;
        var widest = results.MaxBy(r => r.Length).Result.Buckets(trainLength);
        var table = new Table().Title("val loss by position in the window").AddColumn("length");
        foreach (var b in widest) table.AddColumn(new TableColumn(Markup.Escape(PositionsCsv.BucketLabel(b, trainLength))).RightAligned());
        foreach (var (length, result) in results)
        {
            var buckets = result.Buckets(trainLength);
            table.AddRow([length.ToString(c), .. widest.Select((_, i) => i < buckets.Count ? buckets[i].MeanLoss.ToString("F4", c) : "")]);
        }
        return table;
    }

    private static string Csv(string field) => field.Contains(',') || field.Contains('"') ? "\"" + field.Replace("\"", "\"\"") + "\"" : field;

    internal static int[] ParseLengths(string? list, int context)
    {
        if (string.IsNullOrWhiteSpace(list)) return [context, 2 * context, 4 * context, 8 * context, 16 * context];
        var result = new List<int>();
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1)
                throw new ArgumentException($"--lengths: '{part}' is not a positive integer");
            result.Add(n);
        }
        return result.ToArray();
    }
}
