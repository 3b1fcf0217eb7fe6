using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;
using Engine.Nn.Training;

namespace Engine.Nn.Tests;

public class TrainingTests
{
    private static readonly TextDataset Data = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 2, Characters = 20_000 });

    private static readonly GptConfig Tiny = new() { ContextLength = 16, Layers = 1, Heads = 2, ModelDim = 16, Dropout = 0.1 };

    private static TrainerConfig Settings(int steps) => new()
    {
        BatchSize = 4, Steps = steps, WarmupSteps = 2, LearningRate = 1e-2, MinLearningRate = 1e-3,
        EvalInterval = 3, EvalTokens = 256, Seed = 5,
    };

    private static string[] LossColumns(string log) =>
        File.ReadAllLines(log).Select(l => string.Join(',', l.Split(',').Take(3))).ToArray();

    [Fact]
    public void ResumedRunReproducesTheUninterruptedRunExactly()
    {
        using var straightDir = new TempDir();
        using var splitDir = new TempDir();
        var straight = new Trainer(Tiny, Settings(6), Data, straightDir.Path);
        var s = straight.Run(TestContext.Current.CancellationToken);
        Assert.Equal(6, s.Steps);

        using var cancel = new CancellationTokenSource();
        var first = new Trainer(Tiny, Settings(6), Data, splitDir.Path) { Progress = p => { if (p.Step == 4) cancel.Cancel(); } };
        var partial = first.Run(cancel.Token);
        Assert.Equal(4, partial.Steps);
        var resumed = Trainer.Resume(splitDir.Path);
        Assert.Equal(4, resumed.Step);
        var rest = resumed.Run(TestContext.Current.CancellationToken);
        Assert.Equal(6, rest.Steps);

        // Every train and validation loss, bit for bit (the log writes round-trip doubles), and the final weights.
        Assert.Equal(LossColumns(Path.Combine(straightDir.Path, "log.csv")), LossColumns(Path.Combine(splitDir.Path, "log.csv")));
        var a = straight.Model.StateDict();
        var b = resumed.Model.StateDict();
        foreach (var (name, t) in a) Assert.Equal(t.ToArray<float>(), b[name].ToArray<float>());
        Assert.Equal(s.FinalValidationLoss, rest.FinalValidationLoss);
    }

    [Fact]
    public void LossFallsAndTheCheckpointReloadsTheSameModel()
    {
        using var dir = new TempDir();
        var cfg = Settings(25) with { EvalInterval = 10 };
        var trainer = new Trainer(Tiny with { Dropout = 0 }, cfg, Data, dir.Path);
        double before = trainer.Validate();
        var summary = trainer.Run(TestContext.Current.CancellationToken);
        Assert.True(summary.FinalValidationLoss < before - 0.5, $"validation loss {before:F3} → {summary.FinalValidationLoss:F3}");
        var lines = File.ReadAllLines(Path.Combine(dir.Path, "log.csv"));
        Assert.Equal(TrainingLog.Header, lines[0]);
        Assert.Equal(26, lines.Length);
        Assert.Equal("", lines[9].Split(',')[2]);
        Assert.NotEqual("", lines[10].Split(',')[2]);

        var loaded = GptCheckpoint.Load(dir.Path);
        Assert.True(Data.Tokenizer.SameAs(loaded.Tokenizer));
        Assert.Equal(25, loaded.Checkpoint.Metadata.Step);
        var x = Tensor.FromArray<int>(Data.Validation[..32], [2, 16]);
        trainer.Model.Eval();
        Assert.Equal(trainer.Model.Forward(x).ToArray<float>(), loaded.Model.Forward(x).ToArray<float>());
        Assert.Equal(summary.FinalValidationLoss, new Evaluator(Data.Validation, 16, 256).Evaluate(loaded.Model));
    }

    [Fact]
    public void LoadingWeightsOfAnotherShapeNamesTheTensor()
    {
        using var dir = new TempDir();
        var trainer = new Trainer(Tiny, Settings(1), Data, dir.Path);
        var path = trainer.SaveCheckpoint();
        // Claim a wider model in the metadata: the stored weights no longer fit.
        var metaPath = Path.Combine(path, Checkpoint.MetadataFile);
        File.WriteAllText(metaPath, File.ReadAllText(metaPath).Replace("\"ModelDim\": 16", "\"ModelDim\": 32"));
        var e = Assert.Throws<CheckpointException>(() => GptCheckpoint.Load(dir.Path));
        Assert.Contains("token_embedding.weight", e.Message);
        Assert.Contains("[" + Data.Tokenizer.VocabSize + ", 16]", e.Message);
    }

    [Fact]
    public void DivergenceIsAClearError()
    {
        var trainer = new Trainer(Tiny, Settings(3) with { LearningRate = 1e30, MinLearningRate = 1e30, WarmupSteps = 0, GradClip = 0 }, Data);
        var e = Assert.Throws<InvalidOperationException>(() => { for (int i = 0; i < 3; i++) trainer.TrainStep(); });
        Assert.Contains("diverged", e.Message);
    }

    [Fact]
    public void ReopeningTheLogForAResumeDropsRowsAfterTheCheckpoint()
    {
        using var dir = new TempDir();
        var path = dir["log.csv"];
        using (var log = TrainingLog.Open(path))
            for (int step = 1; step <= 5; step++) log.Append(step, 1.0 / step, step == 3 ? 0.5 : null, 1e-3, 100);
        using (TrainingLog.Open(path, resumeFromStep: 3)) { }
        var lines = File.ReadAllLines(path);
        Assert.Equal(4, lines.Length);
        Assert.Equal("3,0.3333333333333333,0.5,0.001,100", lines[3]);
        File.WriteAllText(path, "something else\n");
        Assert.Throws<InvalidDataException>(() => TrainingLog.Open(path, resumeFromStep: 3));
    }

    [Fact]
    public void ReopeningTheLogReplacesItAtomicallyAndToleratesAnEmptyOrTornLog()
    {
        using var dir = new TempDir();
        var path = dir["log.csv"];
        using (var log = TrainingLog.Open(path))
            for (int step = 1; step <= 4; step++) log.Append(step, 1.0, null, 1e-3, 100);
        File.AppendAllText(path, "5,0.9");   // a row torn by a kill
        string before = File.ReadAllText(path);
        // A reader holding the old file sees it whole: the log was replaced by a rename, not truncated in place.
        using (var old = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            using (var log = TrainingLog.Open(path, resumeFromStep: 5)) log.Append(5, 0.5, null, 1e-3, 100);
            Assert.Equal(before, new StreamReader(old).ReadToEnd());
        }
        var lines = File.ReadAllLines(path);
        Assert.Equal(["step", "1", "2", "3", "4", "5"], lines.Select(l => l.Split(',')[0]));
        Assert.Equal("5,0.5,,0.001,100", lines[^1]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp"));
        File.WriteAllText(path, "");   // what a kill during the old in-place rewrite left behind
        using (TrainingLog.Open(path, resumeFromStep: 3)) { }
        Assert.Equal([TrainingLog.Header], File.ReadAllLines(path));
    }

    [Fact]
    public void ANaNLearningRateIsBlamedAlone()
    {
        var e = Assert.Throws<ArgumentException>(() => (Settings(1) with { LearningRate = double.NaN }).Validate());
        Assert.Equal("trainer config: LearningRate must be a positive number, got NaN", e.Message);
    }

    [Fact]
    public void BadSettingsAreListed()
    {
        var e = Assert.Throws<ArgumentException>(() => new Trainer(Tiny, Settings(0) with { BatchSize = 0 }, Data));
        Assert.Contains("BatchSize", e.Message);
        Assert.Contains("Steps", e.Message);
    }
}
