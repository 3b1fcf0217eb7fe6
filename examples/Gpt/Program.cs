using Engine.Examples.Gpt;

// gpt: train, evaluate and sample character-level GPT models with Engine.
// Ctrl+C during training stops after the current step and writes a checkpoint that `train --resume` continues.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancel.IsCancellationRequested) return;   // a second Ctrl+C ends the process
    e.Cancel = true;
    cancel.Cancel();
};

return GptApp.Run(args, cancel.Token);
