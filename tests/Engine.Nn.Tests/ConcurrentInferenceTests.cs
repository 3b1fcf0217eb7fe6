using Engine.Nn.Evaluation;

namespace Engine.Nn.Tests;

/// <summary>Inference on one shared model in training mode, from many threads, must neither see nor change its mode.</summary>
public class ConcurrentInferenceTests
{
    private static Gpt TrainingModel() =>
        new(GptTests.Tiny() with { Dropout = 0.5, InferenceAttention = AttentionSpec.Lssar, Attention = AttentionSpec.Lssa }, seed: 11);

    [Fact]
    public void EvalForwardIgnoresTheModelsMode()
    {
        var model = TrainingModel();
        var x = Tensor.FromArray<int>([1, 2, 3, 4, 5], [1, 5]);
        var asArgument = model.Forward(x, null, training: false).ToDoubleArray();
        Assert.True(model.Training);
        model.Eval();
        Assert.Equal(model.Forward(x).ToDoubleArray(), asArgument);
    }

    [Fact]
    public async Task ConcurrentGenerationGivesTheSameTextAndLeavesTheModelInTraining()
    {
        var model = TrainingModel();
        var options = new SamplingOptions(0.8, TopK: 4, Seed: 3);
        var reference = TextGenerator.Generate(model, [1, 2, 3], 40, options);
        bool sawEval = false;
        using var done = new CancellationTokenSource();
        var watcher = Task.Run(() => { while (!done.IsCancellationRequested) sawEval |= !model.Training; }, TestContext.Current.CancellationToken);
        var results = new int[8][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 },
            i => results[i] = TextGenerator.Generate(model, [1, 2, 3], 40, options));
        done.Cancel();
        await watcher;
        Assert.All(results, r => Assert.Equal(reference, r));
        Assert.False(sawEval, "generation switched the shared model to eval mode");
        Assert.True(model.Training);
    }

    [Fact]
    public void NextTokenModelAndEvaluatorDoNotSwitchTheMode()
    {
        var model = TrainingModel();
        using (var next = new GptNextTokenModel(model))
        {
            Assert.True(model.Training, "GptNextTokenModel switched the model to eval mode");
            var a = next.Start([1, 2, 3]);
            model.Eval();
            var b = new GptNextTokenModel(model).Start([1, 2, 3]);
            Assert.Equal(b, a);
            model.Train();
        }
        var tokens = Enumerable.Range(0, 200).Select(i => i % 7).ToArray();
        var ev = new Evaluator(tokens, 8, 128);
        double reference = ev.Evaluate(model);
        var losses = new double[6];
        Parallel.For(0, losses.Length, i => losses[i] = ev.Evaluate(model));
        Assert.All(losses, l => Assert.Equal(reference, l));
        Assert.True(model.Training);
    }
}
