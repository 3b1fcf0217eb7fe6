using Engine.Cuda.Tests.Emulation;
using Engine.Nn;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Engine.Nn.Diagnostics;
using Engine.Nn.Evaluation;
using Engine.Nn.Training;

namespace Engine.Cuda.Tests;

/// <summary>
/// The libraries on the emulated device: <see cref="Trainer"/> trains the GPT there as on the CPU, evaluation,
/// generation and attention statistics agree with the CPU's, checkpoints move between devices, and a training
/// step reads the device back once.
/// </summary>
public class EmulatedTrainerTests
{
    private static Device Dev
    {
        get
        {
            _ = HostEmulator.Registered;
            return HostEmulator.Device;
        }
    }

    private static readonly TextDataset Data = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 2, Characters = 6_000 });

    private static readonly GptConfig Tiny = new() { ContextLength = 8, Layers = 1, Heads = 2, ModelDim = 8, Dropout = 0.1 };

    // A small clip so that the clipping path (norm read with the loss, gradients scaled on the device) runs.
    private static TrainerConfig Settings(Device device, int steps = 4) => new()
    {
        BatchSize = 2, Steps = steps, WarmupSteps = 1, LearningRate = 1e-2, MinLearningRate = 1e-3, GradClip = 0.05,
        EvalInterval = 2, EvalTokens = 64, Seed = 3, Device = device,
    };

    private static (double[] Losses, double[] Norms, TrainingSummary Summary, Trainer Trainer) Train(Device device, string dir)
    {
        var trainer = new Trainer(Tiny, Settings(device), Data, dir);
        var losses = new List<double>();
        var norms = new List<double>();
        trainer.Progress = p => { losses.Add(p.Result.Loss); norms.Add(p.Result.GradNorm); };
        var summary = trainer.Run(TestContext.Current.CancellationToken);
        return (losses.ToArray(), norms.ToArray(), summary, trainer);
    }

    [Fact]
    public void TrainerFollowsTheCpuAndItsCheckpointLoadsOnTheCpu()
    {
        using var cpuDir = new TempDir();
        using var gpuDir = new TempDir();
        var cpu = Train(Device.Cpu, cpuDir.Path);
        var gpu = Train(Dev, gpuDir.Path);
        Assert.Equal(Dev, gpu.Trainer.Model.Device);
        Assert.All(gpu.Trainer.Optimizer.StateDict().Where(p => p.Key != "step"), p => Assert.Equal(Dev, p.Value.Device));
        TestData.Close(cpu.Losses, gpu.Losses, DType.Float32, "losses", scale: 50);
        TestData.Close(cpu.Norms, gpu.Norms, DType.Float32, "gradient norms", scale: 50);
        Assert.True(gpu.Norms.All(n => n > 0.05), "the clip should act at every step");
        TestData.Close([cpu.Summary.FinalValidationLoss], [gpu.Summary.FinalValidationLoss], DType.Float32, "validation loss", scale: 50);

        // The checkpoint holds host copies: it loads on the CPU (and back on the device) with the run's validation loss.
        var meta = Checkpoint.Open(gpuDir.Path).Metadata;
        Assert.Equal(Dev, TrainerConfig.FromJson(meta.TrainingJson!).Device);
        var evaluator = new Evaluator(Data.Validation, Tiny.ContextLength, 64, tokenBytes: Data.ValidationBytes);
        var onCpu = GptCheckpoint.Load(gpuDir.Path).Model;
        Assert.Equal(Device.Cpu, onCpu.Device);
        double cpuLoss = evaluator.Evaluate(onCpu);
        TestData.Close([gpu.Summary.FinalValidationLoss], [cpuLoss], DType.Float32, "validation loss of the checkpoint on the CPU", scale: 10);
        var back = GptCheckpoint.Load(gpuDir.Path, device: Dev).Model;
        Assert.Equal(Dev, back.Device);
        TestData.Close([cpuLoss], [evaluator.Evaluate(back)], DType.Float32, "validation loss of the checkpoint back on the device", scale: 10);

        // A run trained on the device resumes on the CPU.
        var resumed = Trainer.Resume(gpuDir.Path, c => c with { Steps = 5, Device = Device.Cpu });
        Assert.Equal(Device.Cpu, resumed.Model.Device);
        Assert.Equal(4, resumed.Step);
        Assert.True(double.IsFinite(resumed.TrainStep().Loss));
    }

    [Fact]
    public void EvaluationGenerationAndAttentionStatisticsMatchTheCpu()
    {
        var config = Tiny with { VocabSize = Data.Tokenizer.VocabSize, Attention = AttentionSpec.Lssar };
        var cpu = new Gpt(config, seed: 9);
        var gpu = new Gpt(config, seed: 9);
        gpu.To(Dev);
        var evaluator = new Evaluator(Data.Validation, 16, 64, tokenBytes: Data.ValidationBytes);
        var e = evaluator.EvaluateByPosition(cpu);
        var g = evaluator.EvaluateByPosition(gpu);
        TestData.Close([e.MeanLoss], [g.MeanLoss], DType.Float32, "mean loss", scale: 10);
        TestData.Close(e.PositionLossSums, g.PositionLossSums, DType.Float32, "loss by position", scale: 10);

        int[] prompt = Data.Validation[..5];
        Assert.Equal(TextGenerator.Generate(cpu, prompt, 12, new SamplingOptions(0)), TextGenerator.Generate(gpu, prompt, 12, new SamplingOptions(0)));
        var sampling = new SamplingOptions(1.0, TopK: 5, Seed: 4);
        Assert.Equal(TextGenerator.Generate(cpu, prompt, 12, sampling), TextGenerator.Generate(gpu, prompt, 12, sampling));

        var options = new AttentionStatisticsOptions { FarDistance = 4, SinkTokens = 1 };
        var sc = AttentionStatistics.Measure(cpu, Data.Validation, 16, 2, options).LayerSummary(0);
        var sg = AttentionStatistics.Measure(gpu, Data.Validation, 16, 2, options).LayerSummary(0);
        TestData.Close([sc.Entropy, sc.FarMass, sc.SinkMass], [sg.Entropy, sg.FarMass, sg.SinkMass], DType.Float32, "attention statistics", scale: 10);
    }

    [Fact]
    public void ATrainingStepReadsTheDeviceBackOnce()
    {
        // A device of its own, so no other test's copies are counted.
        var backend = HostEmulator.NewBackend();
        var device = (EmulatedDevice)backend.Api;
        foreach (double clip in new[] { 0.05, 0.0 })
        {
            var trainer = new Trainer(Tiny, Settings(backend.Device) with { GradClip = clip }, Data);
            trainer.TrainStep();   // first step: tables and caches are built
            int before = device.DeviceToHostCopies;
            var step = trainer.TrainStep();
            Assert.True(double.IsFinite(step.Loss));
            Assert.Equal(clip > 0, double.IsFinite(step.GradNorm));
            Assert.Equal(1, device.DeviceToHostCopies - before);
        }
    }

    [Fact]
    public void ABadTokenIdIsStillCaughtOnTheDevice()
    {
        // Ids computed on the device have no host copy: the kernel's check reads its flag back and throws.
        var emb = Tensor.RandN([5, 3], 1UL).To(Dev);
        var ids = Tensor.FromArray(new[] { 0, 1, 2, 9 }, Dev).Narrow(0, 1, 3).Contiguous();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => emb.IndexSelect(0, ids));
        Assert.Contains("out of range", e.Message);
        // An uploaded id out of range is caught too (the host copy's range says so, then the kernel reports it).
        Assert.Throws<ArgumentOutOfRangeException>(() => emb.IndexSelect(0, Tensor.FromArray(new[] { 0, 5 }, Dev)));
        Assert.Throws<ArgumentException>(() => Tensor.CrossEntropy(Tensor.RandN([2, 4], 2UL).To(Dev), Tensor.FromArray(new[] { 1, 4 }, Dev)));
    }

    [Fact]
    public void TrainingAndEvaluationGiveTheirDeviceMemoryBack()
    {
        // A backend of its own, so its allocator counts only this test.
        var backend = HostEmulator.NewBackend();
        var trainer = new Trainer(Tiny, Settings(backend.Device, steps: 3) with { EvalInterval = 100 }, Data);
        trainer.TrainStep();                       // warm-up: RoPE tables and other caches
        backend.Synchronize();
        // Garbage from before the steps (the constructor's temporaries) is finalized now, not during the measured
        // steps, where it would lower the count by chance; what the steps leave must be freed by their scope.
        CollectGarbage();
        long afterFirst = backend.Allocator.Stats.AllocatedBytes;
        for (int i = 0; i < 2; i++) trainer.TrainStep();
        backend.Synchronize();
        Assert.Equal(afterFirst, backend.Allocator.Stats.AllocatedBytes);
        var ev = new Evaluator(Data.Validation, Tiny.ContextLength, 256);
        ev.EvaluateByPosition(trainer.Model);      // warm-up of the eval path
        CollectGarbage();
        long afterEval = backend.Allocator.Stats.AllocatedBytes;
        ev.EvaluateByPosition(trainer.Model);
        Assert.Equal(afterEval, backend.Allocator.Stats.AllocatedBytes);
    }

    private static void CollectGarbage()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}

internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"engine-cuda-test-{Guid.NewGuid():N}");
    public void Dispose() { try { Directory.Delete(Path, true); } catch (IOException) { } }
}
