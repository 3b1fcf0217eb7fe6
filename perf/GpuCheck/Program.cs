using Engine;
using Engine.Cuda;
using Engine.GpuCheck;

// Engine GPU check: parity of every backend op against the CPU, training-loss agreement, GEMM and train-step
// throughput, printed as one table. Exit code 0 when every check passes, 1 when one fails, 2 without CUDA.
//   --quick      skip the CPU timing of the large train step (the slowest part on small hosts)
//   --out DIR    also write DIR/gpu-check.md and DIR/gpu-check.csv

bool quick = args.Contains("--quick");
int outAt = Array.IndexOf(args, "--out");
string? outDir = outAt >= 0 && outAt + 1 < args.Length ? args[outAt + 1] : null;
if (outAt >= 0 && outDir is null)
{
    Console.Error.WriteLine("--out needs a directory");
    return 2;
}
if (!Cuda.IsAvailable)
{
    Console.Error.WriteLine("CUDA is not available on this machine:");
    Console.Error.WriteLine(Cuda.UnavailableReason);
    return 2;
}

CudaBackend.Register();
var gpu = CudaBackend.ForDevice(0);
Console.WriteLine($"Engine GPU check on {gpu.Description}");
var report = new Report();

void Guard(string section, string what, Action action)
{
    try { action(); }
    catch (Exception e) { report.Add(section, what, false, $"{e.GetType().Name}: {e.Message.Split('\n')[0]}"); }
}

var clock = System.Diagnostics.Stopwatch.StartNew();
Guard("parity", "backend ops", () => new Parity(gpu, report).Run());
Guard("training", "MLP loss agreement", () => Training.Agreement(gpu, report));
Guard("training", "GPT loss agreement", () => GptCheck.Agreement(gpu, report));
Guard("training", "GPT 200-step loss curves and 16×L evaluation", () => LongRun.Agreement(gpu, report));
Guard("memory", "flat over 1000 steps", () => LongRun.MemoryIsFlat(gpu, report));
Guard("throughput", "GEMM", () =>
{
    Throughput.Gemm(gpu, report, 4096, DType.Float32, tf32: false, reps: 20);
    Throughput.Gemm(gpu, report, 4096, DType.Float32, tf32: true, reps: 20);
    Throughput.Gemm(gpu, report, 4096, DType.BFloat16, tf32: false, reps: 20);
    Throughput.Gemm(gpu, report, 2048, DType.Float64, tf32: false, reps: 5);
});
Guard("throughput", "train step", () => Throughput.TrainStep(gpu, report, includeCpu: !quick));
Guard("throughput", "GPT train step", () => GptCheck.StepTime(gpu, report));
var stats = gpu.Allocator.Stats;
report.Add("memory", "caching allocator", null, stats.ToString());
report.Add("run", "wall time", null, $"{clock.Elapsed.TotalSeconds:0.0} s (kernels compiled by NVRTC on first use, cached in {Engine.Cuda.Runtime.KernelCompiler.CacheDirectory()})");
report.Print(Console.Out);
if (outDir is not null)
    report.Write(outDir, [$"Device: {gpu.Description}.", $"Run at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} host cores, .NET {Environment.Version}."]);
return report.Failures == 0 ? 0 : 1;
