using System.Globalization;
using Engine.Nn;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Engine.Nn.Training;

namespace Engine.Examples.Gpt;

/// <summary>
/// <c>train --resume</c> continues a run as it was configured: an option given on the command line must agree with
/// the checkpoint (only --steps, --threads, --device, --precision and --max-data-mb may change), and every one that does not is named.
/// </summary>
internal static class ResumeOptions
{
    /// <summary>The options a resumed run may set differently; every other given option must agree with the checkpoint.</summary>
    private static readonly string[] Changeable = ["--steps", "--threads", "--device", "--precision", "--max-data-mb"];

    private static readonly HashSet<string> MayChange = ["--out", "--resume", "--help", "-h", .. Changeable];

    /// <summary>"--steps, --threads, … and --max-data-mb", for the error message.</summary>
    private static string ChangeableList => string.Join(", ", Changeable[..^1]) + " and " + Changeable[^1];

    /// <summary>The long options written in <paramref name="args"/> (<c>--name value</c> or <c>--name=value</c>).</summary>
    public static HashSet<string> Given(IEnumerable<string> args) =>
        args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=', 2)[0]).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Checks the given options against the checkpoint in <paramref name="reader"/> and returns the corpus to resume
    /// on when --data names a file (checked against the stored hash), else null (the stored source).
    /// </summary>
    /// <exception cref="ArgumentException">Options contradict the checkpoint (each is named with the stored value).</exception>
    public static TextDataset? Check(TrainCommand.Settings s, ISet<string> given, CheckpointReader reader)
    {
        var meta = reader.Metadata;
        GptConfig model;
        TrainerConfig training;
        try
        {
            model = GptConfig.FromJson(meta.ModelJson);
            training = TrainerConfig.FromJson(meta.TrainingJson ?? throw new CheckpointException($"{reader.Directory}: has no training settings, so it cannot be resumed"));
        }
        catch (Exception e) when (e is ArgumentException or System.Text.Json.JsonException or NotSupportedException)
        {
            throw new CheckpointException($"{reader.Directory}: stored configuration is invalid ({e.Message})", e);
        }
        var problems = new List<string>();
        void Compare<T>(string option, T value, T stored)
        {
            if (given.Contains(option) && !EqualityComparer<T>.Default.Equals(value, stored))
                problems.Add($"{option} {Show(value)} (the checkpoint has {Show(stored)})");
        }
        Compare("--tokenizer", s.TokenizerKind(), meta.Tokenizer.Kind);
        Compare("--context", s.Context, model.ContextLength);
        Compare("--layers", s.Layers, model.Layers);
        Compare("--heads", s.Heads, model.Heads);
        Compare("--dim", s.Dim, model.ModelDim);
        Compare("--dropout", s.Dropout, model.Dropout);
        Compare("--rope-base", s.RopeBase, model.RopeBase);
        if (given.Contains("--positions")) Compare("--positions", AttentionNames.ParsePositions(s.Positions), model.PositionEmbedding);
        if (given.Overlaps(["--attention", "--power", "--window", "--scale-dim"]))
        {
            var attention = s.ParseAttention(given.Contains("--attention") ? s.Attention : model.Attention.Label);
            if (attention != model.Attention)
                problems.Add($"{string.Join("/", new[] { "--attention", "--power", "--window", "--scale-dim" }.Where(given.Contains))} give {attention.Label} (the checkpoint trains {model.Attention.Label})");
        }
        if (given.Contains("--inference-attention"))
        {
            var inference = s.InferenceAttention is null ? null : s.ParseAttention(s.InferenceAttention);
            if (inference != model.InferenceAttention)
                problems.Add($"--inference-attention {inference?.Label ?? "(none)"} (the checkpoint has {model.InferenceAttention?.Label ?? "none"})");
        }
        Compare("--batch", s.Batch, training.BatchSize);
        Compare("--lr", s.LearningRate, training.LearningRate);
        Compare("--min-lr", s.MinLearningRate, training.MinLearningRate);
        Compare("--warmup", s.Warmup, training.WarmupSteps);
        Compare("--weight-decay", s.WeightDecay, training.WeightDecay);
        Compare("--clip", s.Clip, training.GradClip);
        Compare("--seed", s.Seed, training.Seed);
        Compare("--eval-interval", s.EvalInterval, training.EvalInterval);
        Compare("--eval-tokens", s.EvalTokens, training.EvalTokens);

        TextDataset? data = null;
        bool synthetic = meta.Data.Kind == "synthetic";
        if (given.Contains("--data"))
        {
            bool wantsSynthetic = string.Equals(s.Data, "synthetic", StringComparison.OrdinalIgnoreCase);
            if (wantsSynthetic != synthetic) problems.Add($"--data {s.Data} (the checkpoint was trained on {meta.Data})");
            else if (!wantsSynthetic)
            {
                // Another path to the same bytes (the run moved, or a relative path from elsewhere) is fine.
                try { data = TextDataset.FromFile(s.Data, meta.Tokenizer, expectedSha256: meta.Data.Sha256, maxBytes: s.MaxDataBytes); }
                catch (ArgumentException e) { problems.Add($"--data {s.Data}: {e.Message}"); }
            }
        }
        if (synthetic && meta.Data.Synthetic is { } options)
        {
            Compare("--synthetic-chars", s.SyntheticChars, options.Characters);
            Compare("--synthetic-seed", s.SyntheticSeed, options.Seed);
        }
        else
            foreach (var option in new[] { "--synthetic-chars", "--synthetic-seed" }.Where(given.Contains))
                problems.Add($"{option} (the checkpoint was trained on {meta.Data}, not the synthetic corpus)");

        var unchecked_ = given.Where(o => !MayChange.Contains(o) && !Checked.Contains(o)).ToList();
        problems.AddRange(unchecked_.Select(o => $"{o} (cannot change on --resume)"));
        if (problems.Count > 0)
            throw new ArgumentException($"--resume continues {reader.Directory} as it was configured; these options contradict it: {string.Join("; ", problems)} (only {ChangeableList} may change)");
        return data;
    }

    private static readonly HashSet<string> Checked =
    [
        "--context", "--layers", "--heads", "--dim", "--dropout", "--rope-base", "--positions", "--attention", "--power", "--window",
        "--scale-dim", "--inference-attention", "--batch", "--lr", "--min-lr", "--warmup", "--weight-decay", "--clip", "--seed", "--eval-interval",
        "--eval-tokens", "--data", "--synthetic-chars", "--synthetic-seed", "--tokenizer",
    ];

    private static string Show<T>(T value) => value switch
    {
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        PositionEmbedding p => AttentionNames.Name(p),
        TokenizerKind k => Tokenizer.Name(k),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
