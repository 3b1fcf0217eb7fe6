using BenchmarkDotNet.Attributes;

namespace Engine.Perf.Benchmarks;

/// <summary>One GPT training step in the peer's configuration (see <see cref="TrainStepBench"/>), Softmax and LSSAR.</summary>
[MemoryDiagnoser]
public class TrainStepBenchmarks
{
    private TrainStepBench.TrainLoop loop = null!;

    /// <summary>The attention used by every block.</summary>
    [Params("Softmax", "LSSAR")]
    public string Attention { get; set; } = "Softmax";

    /// <summary>Builds the model and optimiser and takes a few warm-up steps.</summary>
    [GlobalSetup]
    public void Setup()
    {
        loop = new TrainStepBench.TrainLoop(Attention == "LSSAR" ? AttentionSpec.Lssar : AttentionSpec.Softmax);
        for (int i = 0; i < 3; i++) loop.Step();
    }

    /// <summary>Forward, loss, backward and an AdamW step.</summary>
    [Benchmark]
    public double Step() => loop.Step().Loss;
}

/// <summary>Causal attention forward+backward, B=8, H=4, T=256, d_head=32 (see <see cref="AttentionBench"/>).</summary>
[MemoryDiagnoser]
public class AttentionBenchmarks
{
    private AttentionBench.Inputs inputs = null!;
    private AttentionSpec spec = AttentionSpec.Softmax;

    /// <summary>The attention kind.</summary>
    [Params("Softmax", "LSSAR")]
    public string Attention { get; set; } = "Softmax";

    /// <summary>Random q, k, v and upstream gradient.</summary>
    [GlobalSetup]
    public void Setup()
    {
        inputs = new AttentionBench.Inputs();
        spec = Attention == "LSSAR" ? AttentionSpec.Lssar : AttentionSpec.Softmax;
    }

    /// <summary>Forward only, no graph.</summary>
    [Benchmark]
    public void Forward() => inputs.Forward(spec);

    /// <summary>Forward and backward with a fixed upstream gradient.</summary>
    [Benchmark]
    public void ForwardBackward() => inputs.ForwardBackward(spec);
}
