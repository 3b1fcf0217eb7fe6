using BenchmarkDotNet.Attributes;

namespace Engine.Perf.Benchmarks;

/// <summary>
/// Matrix products of issue-sized shapes through the public API (<see cref="Tensor.MatMul"/>, result allocated per
/// call), float32, on 1 and 2 threads. GFLOP/s = 2·m·n·k·batch / mean time.
/// </summary>
[MemoryDiagnoser]
public class GemmBenchmarks
{
    private Tensor a = null!, b = null!;

    /// <summary>Shape as "m,k,n[,layout][,batch]": layout nn (A·B), tn (Aᵀ·B), nt (A·Bᵀ).</summary>
    [Params("1024,1024,1024", "4096,128,384", "4096,512,128", "128,4096,512,tn", "4096,512,128,nt", "256,32,256,nn,32", "256,256,32,nn,32")]
    public string Shape { get; set; } = "1024,1024,1024";

    /// <summary>EngineThreads.Count during the benchmark.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var p = Shape.Split(',');
        int m = int.Parse(p[0]), k = int.Parse(p[1]), n = int.Parse(p[2]);
        string layout = p.Length > 3 ? p[3] : "nn";
        int batch = p.Length > 4 ? int.Parse(p[4]) : 1;
        int[] Lead(params int[] s) => batch > 1 ? [batch, .. s] : s;
        a = layout[0] == 't' ? Tensor.RandN(Lead(k, m), 1).Transpose(-1, -2) : Tensor.RandN(Lead(m, k), 1);
        b = layout[1] == 't' ? Tensor.RandN(Lead(n, k), 2).Transpose(-1, -2) : Tensor.RandN(Lead(k, n), 2);
        EngineThreads.Count = Threads;
    }

    [GlobalCleanup]
    public void Cleanup() => EngineThreads.Count = Environment.ProcessorCount;

    [Benchmark]
    public Tensor MatMul() => a.MatMul(b);
}
