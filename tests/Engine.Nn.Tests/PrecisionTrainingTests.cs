using Engine.Nn.Data;
using Engine.Nn.Training;

namespace Engine.Nn.Tests;

/// <summary>TrainerConfig.Precision: stored in checkpoints (old ones read float32) and applied by the Trainer.</summary>
public class PrecisionTrainingTests
{
    private static readonly TextDataset Data = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 2, Characters = 20_000 });

    private static readonly GptConfig Tiny = new() { ContextLength = 16, Layers = 1, Heads = 2, ModelDim = 16, Dropout = 0 };

    private static TrainerConfig Settings(Precision precision) => new()
    {
        BatchSize = 4, Steps = 4, WarmupSteps = 1, LearningRate = 1e-2, MinLearningRate = 1e-3,
        EvalInterval = 0, EvalTokens = 256, Seed = 5, Precision = precision,
    };

    [Fact]
    public void PrecisionIsStoredByNameAndOldConfigurationsReadFloat32()
    {
        var json = Settings(Precision.BFloat16).ToJson();
        Assert.Contains("\"Precision\": \"BFloat16\"", json);
        Assert.Equal(Precision.BFloat16, TrainerConfig.FromJson(json).Precision);
        Assert.Equal(Precision.TF32, TrainerConfig.FromJson(Settings(Precision.TF32).ToJson()).Precision);
        // A configuration written before the setting existed.
        var old = json.Replace(",\n  \"Precision\": \"BFloat16\"", "").Replace("\"Precision\": \"BFloat16\",", "");
        Assert.DoesNotContain("Precision", old);
        Assert.Equal(Precision.Float32, TrainerConfig.FromJson(old).Precision);
        Assert.Contains("Precision", Assert.Throws<ArgumentException>(() => (Settings(Precision.Float32) with { Precision = (Precision)7 }).Validate()).Message);
    }

    [Fact]
    public void BFloat16TrainingOnTheCpuFollowsFloat32AndTf32IsFloat32There()
    {
        double[] Run(Precision p)
        {
            var trainer = new Trainer(Tiny, Settings(p), Data);
            var losses = Enumerable.Range(0, 4).Select(_ => trainer.TrainStep().Loss).ToArray();
            Assert.All(trainer.Model.Parameters(), t => Assert.Equal(DType.Float32, t.DType));
            return [.. losses, trainer.Validate()];
        }
        var f32 = Run(Precision.Float32);
        var tf32 = Run(Precision.TF32);
        var bf16 = Run(Precision.BFloat16);
        Assert.Equal(f32, tf32); // the CPU has no TF32: identical arithmetic
        Assert.NotEqual(f32, bf16);
        // bfloat16 operands (u = 2^-8) move the losses by a few 1e-3 nats here; 3e-2 leaves room for four steps of drift.
        for (int i = 0; i < f32.Length; i++)
            Assert.True(Math.Abs(f32[i] - bf16[i]) <= 3e-2, $"loss {i}: bf16 {bf16[i]:R} vs float32 {f32[i]:R}");
        Assert.Equal(Precision.Float32, Autocast.Current); // the trainer's scope is closed again
    }
}
