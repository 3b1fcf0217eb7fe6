using BenchmarkDotNet.Running;
using Engine.Perf;

// `table [--quick]` prints the Markdown comparison table; anything else goes to BenchmarkDotNet
// (e.g. `--filter '*Gemm*'`, `--list flat`).
if (args.Length > 0 && args[0] == "table")
    return PerfTable.Run(args[1..]);
if (args.Length > 0 && args[0] == "trainstep")
    return TrainStepBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "elementwise")
    return ElementwiseBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "attention")
    return AttentionBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "probe")
    return Probe.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(PerfTable).Assembly).Run(args);
return 0;
