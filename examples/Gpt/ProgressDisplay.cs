using System.Globalization;
using Engine.Nn.Training;
using Spectre.Console;

namespace Engine.Examples.Gpt;

/// <summary>
/// Shows training progress: a live progress bar with step, loss, tokens/s and ETA on an interactive terminal, and
/// plain lines (about twenty per run, plus every evaluation) when the output is redirected, as in CI logs.
/// </summary>
internal static class ProgressDisplay
{
    public static TrainingSummary Run(Trainer trainer, CancellationToken cancellation)
    {
        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        return interactive ? Live(trainer, cancellation) : Plain(trainer, cancellation);
    }

    private static string Describe(TrainingProgress p, double? lastVal) => string.Format(CultureInfo.InvariantCulture,
        "step {0}/{1}  loss {2:F4}  val {3}  lr {4:G3}  {5:F0} tok/s  ETA {6}",
        p.Step, p.Steps, p.Result.Loss, lastVal is { } v ? v.ToString("F4", CultureInfo.InvariantCulture) : "-",
        p.Result.LearningRate, p.Result.TokensPerSecond, Format(p.Remaining));

    private static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);

    private static TrainingSummary Plain(Trainer trainer, CancellationToken cancellation)
    {
        int every = Math.Max(1, (trainer.Config.Steps - trainer.Step) / 20);
        double? lastVal = null;
        trainer.Progress = p =>
        {
            lastVal = p.ValidationLoss ?? lastVal;
            if (p.ValidationLoss is not null || p.Step % every == 0 || p.Step == p.Steps)
                Console.WriteLine(Describe(p, lastVal));
        };
        try { return trainer.Run(cancellation); }
        finally { trainer.Progress = null; }
    }

    private static TrainingSummary Live(Trainer trainer, CancellationToken cancellation)
    {
        TrainingSummary? summary = null;
        double? lastVal = null;
        AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("starting", maxValue: trainer.Config.Steps);
                task.Value = trainer.Step;
                trainer.Progress = p =>
                {
                    lastVal = p.ValidationLoss ?? lastVal;
                    task.Value = p.Step;
                    task.Description = Markup.Escape(Describe(p, lastVal));
                };
                try { summary = trainer.Run(cancellation); }
                finally { trainer.Progress = null; }
            });
        return summary!;
    }
}
