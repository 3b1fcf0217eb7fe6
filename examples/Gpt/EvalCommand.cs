using System.ComponentModel;
using System.Globalization;
using System.Text;
using Engine.Nn.Data;
using Engine.Nn.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary><c>gpt eval</c>: validation loss of a checkpoint at several window lengths.</summary>
internal sealed class EvalCommand : Command<EvalCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--checkpoint <DIR>"), Description("A run directory (its latest checkpoint) or a checkpoint directory")]
        public string Checkpoint { get; init; } = "";

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

        [CommandOption("--threads <N>"), Description("CPU threads per kernel (0: all cores)"), DefaultValue(0)]
        public int Threads { get; init; }

        public override ValidationResult Validate() =>
            string.IsNullOrWhiteSpace(Checkpoint) ? ValidationResult.Error("--checkpoint is required") : ValidationResult.Success();
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellation)
    {
        if (s.Threads > 0) EngineThreads.Count = s.Threads;
        var loaded = GptCheckpoint.Load(s.Checkpoint, s.InferenceAttention is null ? null
            : c => c with { InferenceAttention = AttentionNames.Parse(s.InferenceAttention, s.Power, c.ContextLength) });
        var meta = loaded.Checkpoint.Metadata;
        var config = loaded.Model.Config;
        var data = s.Data is null
            ? TextDataset.Load(meta.Data, loaded.Tokenizer)
            : TextDataset.Open(s.Data, meta.Data.Synthetic, loaded.Tokenizer);
        var lengths = ParseLengths(s.Lengths, config.ContextLength);
        int span = Math.Max(s.EvalTokens, lengths.Max());

        Console.WriteLine($"checkpoint {loaded.Checkpoint.Directory} (step {meta.Step}, attention {(config.InferenceAttention ?? config.Attention).Label}, trained at context {config.ContextLength})");
        var table = new Table().AddColumns("length", "× context", "val loss", "windows", "tokens");
        var csv = new StringBuilder("checkpoint,step,attention,train_len,eval_len,val_loss,windows,tokens\n");
        var c = CultureInfo.InvariantCulture;
        foreach (int length in lengths)
        {
            cancellation.ThrowIfCancellationRequested();
            var ev = new Evaluator(data.Validation, length, span, s.BatchTokens);
            double loss = ev.Evaluate(loaded.Model);
            table.AddRow(length.ToString(c), (length / (double)config.ContextLength).ToString("G3", c), loss.ToString("F4", c), ev.Windows.ToString(c), ev.ScoredTokens.ToString(c));
            csv.Append(c, $"{Csv(loaded.Checkpoint.Directory)},{meta.Step},{(config.InferenceAttention ?? config.Attention).Label},{config.ContextLength},{length},{loss:R},{ev.Windows},{ev.ScoredTokens}\n");
        }
        AnsiConsole.Write(table);
        // Checkpoint directories are immutable (and pruned), so the CSV goes next to them, in the run directory.
        string path = s.Csv ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(loaded.Checkpoint.Directory))!, $"eval-{Path.GetFileName(loaded.Checkpoint.Directory)}.csv");
        File.WriteAllText(path, csv.ToString());
        Console.WriteLine($"wrote {path}");
        return 0;
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
