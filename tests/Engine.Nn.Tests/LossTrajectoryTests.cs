using Engine.Nn.Data;
using Engine.Nn.Training;

namespace Engine.Nn.Tests;

/// <summary>
/// The CPU performance work (buffer pool, step scopes, gradients freed during backward, the worker threads) must
/// not change what training computes: a fixed-seed run's losses equal those recorded before it, within float32
/// rounding. The recorded values come from the same test run at commit 3177ddd (before the pool) on an AMD EPYC
/// Zen 4 (AVX-512); other SIMD paths sum in another order, which the tolerance allows for (a changed op moves the
/// losses by far more). Since the attention row stages compute exp and ln(1 + t) themselves (float32, within 2 ulp
/// of the runtime's), the losses differ from the record by rounding: on an Intel Xeon (family 6 model 207, Vector512)
/// Softmax's stay within 1e-6 for all 25 steps and LSSAR's for 7 steps (3e-5 by step 12, as p = 15 amplifies it).
/// </summary>
public class LossTrajectoryTests
{
    private static readonly TextDataset Data = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 5, Characters = 20_000 });

    private static double[] Losses(AttentionSpec attention)
    {
        var model = new GptConfig
        {
            ContextLength = 32, Layers = 2, Heads = 2, ModelDim = 32, Attention = attention, Dropout = 0,
            VocabSize = Data.Tokenizer.VocabSize,
        };
        var settings = new TrainerConfig
        {
            BatchSize = 4, Steps = 25, WarmupSteps = 3, LearningRate = 3e-3, MinLearningRate = 3e-4, GradClip = 1.0,
            EvalInterval = 0, EvalTokens = 64, Seed = 17,
        };
        var trainer = new Trainer(model, settings, Data);
        var losses = new double[settings.Steps];
        for (int i = 0; i < losses.Length; i++) losses[i] = trainer.TrainStep().Loss;
        return losses;
    }

    [Theory]
    [InlineData("softmax")]
    [InlineData("lssar")]
    public void AFixedSeedRunKeepsItsRecordedLosses(string attention)
    {
        var spec = attention == "lssar" ? AttentionSpec.Lssar : AttentionSpec.Softmax;
        double[] recorded = attention == "lssar" ? RecordedLssar : RecordedSoftmax;
        var losses = Losses(spec);
        Assert.Equal(recorded.Length, losses.Length);
        for (int i = 0; i < losses.Length; i++)
        {
            // Rounding apart (see above), and on the 128-bit and scalar paths the sums run in another order, which LSSAR's
            // p = 15 amplifies as training goes on (2e-5 by step 10, 3e-3 by step 25, measured): the first ten steps are
            // held to float32 rounding, the rest loosely.
            double tolerance = i < 10 ? 1e-4 : 1e-2;
            Assert.True(Math.Abs(losses[i] - recorded[i]) <= tolerance * recorded[i], $"step {i + 1}: loss {losses[i]:R}, recorded {recorded[i]:R}");
        }
        Assert.Equal(losses, Losses(spec));   // and the run repeats exactly
    }

    private static readonly double[] RecordedSoftmax =
    [
        3.947309970855713, 3.902297019958496, 3.7743213176727295, 3.7110795974731445, 3.6395320892333984,
        3.6053965091705322, 3.550615072250366, 3.436038017272949, 3.3867931365966797, 3.3797521591186523,
        3.324735403060913, 3.216636896133423, 3.192183256149292, 3.2156801223754883, 3.1140332221984863,
        3.179978132247925, 3.1656248569488525, 3.1255040168762207, 3.158507823944092, 3.142256498336792,
        3.085082530975342, 3.0429253578186035, 3.052563190460205, 3.044721841812134, 3.040633201599121,
    ];

    private static readonly double[] RecordedLssar =
    [
        3.94602370262146, 3.90065860748291, 3.7891199588775635, 3.7198033332824707, 3.6530921459198,
        3.6236493587493896, 3.572006940841675, 3.46601939201355, 3.4234046936035156, 3.406485080718994,
        3.3588409423828125, 3.2639412879943848, 3.2470741271972656, 3.2586748600006104, 3.1589484214782715,
        3.2183213233947754, 3.2103724479675293, 3.1587562561035156, 3.1948578357696533, 3.1808111667633057,
        3.12866473197937, 3.096081495285034, 3.095097780227661, 3.0817151069641113, 3.0873098373413086,
    ];
}
