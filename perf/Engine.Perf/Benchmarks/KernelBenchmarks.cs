using BenchmarkDotNet.Attributes;

namespace Engine.Perf.Benchmarks;

/// <summary>
/// The elementwise and row-wise kernels on the activation shapes of the reference GPT ([16·256, 128] and the
/// [16·4, 256, 256] attention scores), float32, through the public API.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks
{
    private Tensor x = null!, y = null!, scores = null!;

    [GlobalSetup]
    public void Setup()
    {
        x = Tensor.RandN([4096, 512], 1);
        y = Tensor.RandN([4096, 512], 2);
        scores = Tensor.RandN([64, 256, 256], 3);
    }

    [Benchmark] public Tensor Add() => x.Add(y);
    [Benchmark] public Tensor Mul() => x.Mul(y);
    [Benchmark] public Tensor Gelu() => x.Gelu();
    [Benchmark] public Tensor Exp() => x.Exp();
    [Benchmark] public Tensor SoftmaxRows() => scores.Softmax(-1);
    [Benchmark] public Tensor LogSoftmaxRows() => scores.LogSoftmax(-1);
    [Benchmark] public Tensor SumRows() => x.Sum(-1);
}
