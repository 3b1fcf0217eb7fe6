using Engine.Examples.Gpt;
using Spectre.Console.Cli;

// gpt: train, evaluate and sample character-level GPT models with Engine.
// Ctrl+C during training stops after the current step and writes a checkpoint that `train --resume` continues.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;   // a second Ctrl+C ends the process
    e.Cancel = true;
    cancel.Cancel();
};

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("gpt");
    config.SetInterceptor(new EngineSettingsInterceptor());
    config.AddCommand<TrainCommand>("train")
        .WithDescription("Train a GPT on the embedded synthetic corpus or a UTF-8 text file; writes checkpoints and log.csv to --out.")
        .WithExample("train", "--data", "synthetic", "--attention", "softmax", "--context", "64", "--steps", "500", "--out", "runs/softmax")
        .WithExample("train", "--out", "runs/softmax", "--resume", "--steps", "1000");
    config.AddCommand<EvalCommand>("eval")
        .WithDescription("Validation loss of a checkpoint at several window lengths, overall and by position in the window; prints tables and writes CSVs.")
        .WithExample("eval", "--checkpoint", "runs/softmax", "--lengths", "64,128,256,512,1024");
    config.AddCommand<SampleCommand>("sample")
        .WithDescription("Generate text from a checkpoint (temperature, top-k, seed; KV cache).")
        .WithExample("sample", "--checkpoint", "runs/softmax", "--prompt", "\"Chapter 1.\"", "--tokens", "300");
    config.AddCommand<ExtrapolateCommand>("extrapolate")
        .WithDescription("Length extrapolation: train each attention variant at context L (once per seed), evaluate at factor × L; writes loss, loss by position and attention statistics as CSV, Markdown and plots.")
        .WithExample("extrapolate", "--data", "synthetic", "--context", "32", "--steps", "300", "--out", "runs/extrapolate")
        .WithExample("extrapolate", "--context", "32", "--steps", "300", "--seeds", "1,2,3", "--out", "runs/extrapolate-seeds");
    config.AddCommand<PasskeyCommand>("passkey")
        .WithDescription("Passkey retrieval: train each variant with passkey prompts mixed in (or load --checkpoint), then score greedy key retrieval at factor × L and several depths; writes passkey.csv, passkey.md and plots.")
        .WithExample("passkey", "--context", "128", "--steps", "1000", "--variants", "softmax,lssar", "--out", "runs/passkey");
    config.AddCommand<AttentionCommand>("attention")
        .WithDescription("Attention diagnostics of a checkpoint: entropy, far mass and sink mass per layer and head against row length, and attention-map heatmaps for a prompt.")
        .WithExample("attention", "--checkpoint", "runs/extrapolate/runs/lssar/seed-1", "--out", "runs/attention-lssar");
    config.PropagateExceptions();
});

try
{
    return app.Run(args, cancel.Token);
}
catch (Exception e) when (e is CommandAppException or ArgumentException or InvalidOperationException or IOException
                              or InvalidDataException or UnauthorizedAccessException or NotSupportedException
                              or Engine.Nn.Checkpoints.CheckpointException or FormatException)
{
    Console.Error.WriteLine($"gpt: {e.Message}");
    return 1;
}
