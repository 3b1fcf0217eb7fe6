using Engine.Nn.Data;
using Engine.Nn.Evaluation;
using Engine.Nn.Training;

namespace Engine.Nn.Tests;

public class PasskeyPromptTests
{
    // A short corpus without some digits, extended by the passkey alphabet as the passkey command does.
    internal static readonly TextDataset Data = Extended(TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 3, Characters = 12_000 }));

    internal static TextDataset Extended(TextDataset d) => d.WithTokenizer(PasskeyPrompts.WithAlphabet(d.Tokenizer));

    internal static PasskeyPrompts Builder() => new(Data.Tokenizer, Data.Validation);

    private static string Text(PasskeyPrompt p, int start, int count) => Data.Tokenizer.Decode(p.Tokens.AsSpan(start, count));

    [Theory]
    [InlineData(80, 0.0)]
    [InlineData(200, 0.25)]
    [InlineData(500, 0.5)]
    [InlineData(1000, 1.0)]
    [InlineData(333, 0.77)]
    public void TheKeySitsWhereThePromptSaysAndTheLengthIsExact(int length, double depth)
    {
        var p = Builder().Build(length, new Rng(11), depth);
        Assert.Equal(length, p.Length);
        Assert.Equal(PasskeyTemplate.Paper.StatementPrefix + p.Key + PasskeyTemplate.Paper.StatementSuffix,
            Text(p, p.StatementIndex, PasskeyTemplate.Paper.StatementPrefix.Length + 5 + PasskeyTemplate.Paper.StatementSuffix.Length));
        Assert.Equal(p.StatementIndex + PasskeyTemplate.Paper.StatementPrefix.Length, p.KeyIndex);
        Assert.Equal(p.Key, Text(p, p.KeyIndex, 5));
        Assert.Equal(p.Key, Data.Tokenizer.Decode(p.Answer));
        Assert.Matches("^[1-9][0-9]{4}$", p.Key);
        Assert.Equal(length - PasskeyTemplate.Paper.Question.Length, p.QuestionIndex);
        Assert.EndsWith(PasskeyTemplate.Paper.Question, Data.Tokenizer.Decode(p.Tokens));
        int filler = length - PasskeyTemplate.Paper.FixedLength;
        Assert.Equal((int)Math.Floor(depth * filler + 0.5), p.StatementIndex);
        Assert.Equal(p.StatementIndex / (double)filler, p.Depth);
        Assert.Equal([.. p.Tokens, .. p.Answer], p.Sequence());
    }

    [Fact]
    public void DepthZeroStartsWithTheKeyAndDepthOneEndsWithIt()
    {
        var b = Builder();
        var first = b.Build(300, new Rng(1), 0.0);
        Assert.Equal(0, first.StatementIndex);
        Assert.StartsWith(PasskeyTemplate.Paper.StatementPrefix, Data.Tokenizer.Decode(first.Tokens));
        var last = b.Build(300, new Rng(1), 1.0);
        Assert.EndsWith(PasskeyTemplate.Paper.StatementSuffix + PasskeyTemplate.Paper.Question, Data.Tokenizer.Decode(last.Tokens));
        Assert.Equal(1.0, last.Depth);
        // No filler at all: statement then question.
        var bare = b.Build(PasskeyTemplate.Paper.FixedLength, new Rng(1), 0.5);
        Assert.Equal(PasskeyTemplate.Paper.StatementPrefix + bare.Key + PasskeyTemplate.Paper.StatementSuffix + PasskeyTemplate.Paper.Question, Data.Tokenizer.Decode(bare.Tokens));
    }

    [Fact]
    public void TheFillerIsCorpusTextReadCyclically()
    {
        var corpus = Data.Validation;
        var p = Builder().Build(200, 0.5, "12345", corpus.Length - 10);
        int filler = 200 - PasskeyTemplate.Paper.FixedLength;
        var read = p.Tokens.Take(p.StatementIndex).Concat(p.Tokens.Skip(p.KeyIndex + 5 + PasskeyTemplate.Paper.StatementSuffix.Length).Take(filler - p.StatementIndex)).ToArray();
        var expected = Enumerable.Range(0, filler).Select(i => corpus[(corpus.Length - 10 + i) % corpus.Length]).ToArray();
        Assert.Equal(expected, read);
    }

    [Fact]
    public void TheSameSeedGivesTheSamePrompts()
    {
        var b = Builder();
        var r1 = new Rng(42);
        var r2 = new Rng(42);
        var r3 = new Rng(43);
        var a = Enumerable.Range(0, 5).Select(_ => b.Build(150, r1)).ToArray();
        var c = Enumerable.Range(0, 5).Select(_ => b.Build(150, r2)).ToArray();
        var d = Enumerable.Range(0, 5).Select(_ => b.Build(150, r3)).ToArray();
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(a[i].Tokens, c[i].Tokens);
            Assert.Equal(a[i].Key, c[i].Key);
            Assert.Equal(a[i].Depth, c[i].Depth);
        }
        Assert.NotEqual(a.Select(p => p.Key), d.Select(p => p.Key));
        Assert.True(a.Select(p => p.Depth).Distinct().Count() > 1, "random depths differ");
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        var b = Builder();
        var shortPrompt = Assert.Throws<ArgumentOutOfRangeException>(() => b.Build(PasskeyTemplate.Paper.FixedLength - 1, new Rng(1)));
        Assert.Contains($"{PasskeyTemplate.Paper.FixedLength - 1} tokens is too short", shortPrompt.Message);
        Assert.Contains(PasskeyTemplate.Paper.FixedLength.ToString(), shortPrompt.Message);
        foreach (double depth in new[] { -0.01, 1.01, double.NaN })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => b.Build(200, new Rng(1), depth));
            Assert.Contains("outside [0, 1]", e.Message);
        }
        Assert.Throws<ArgumentException>(() => b.Build(200, 0.5, "1234", 0));
        Assert.Throws<ArgumentException>(() => b.Build(200, 0.5, "12a45", 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.Build(200, 0.5, "12345", Data.Validation.Length));
        var window = Assert.Throws<ArgumentOutOfRangeException>(() => b.PromptLengthForWindow(PasskeyTemplate.Paper.FixedLength + 3));
        Assert.Contains("too short", window.Message);
        Assert.Equal(PasskeyTemplate.Paper.FixedLength, b.PromptLengthForWindow(PasskeyTemplate.Paper.FixedLength + 4));
        Assert.Throws<ArgumentException>(() => new PasskeyPrompts(Data.Tokenizer, []));
        Assert.Throws<ArgumentException>(() => PasskeyTemplate.Named("long"));
        Assert.Throws<ArgumentException>(() => new PasskeyTemplate("key 1 ", ". ", "key? "));
        Assert.Throws<ArgumentException>(() => new PasskeyTemplate("key ", ". ", ""));
    }

    [Fact]
    public void TheShortTemplateFitsSmallWindows()
    {
        var b = new PasskeyPrompts(Data.Tokenizer, Data.Validation, PasskeyTemplate.Named("short"));
        Assert.Equal(20, b.FixedLength);
        Assert.Equal(24, PasskeyTemplate.Short.MinimumWindow);
        var p = b.Build(b.PromptLengthForWindow(32), new Rng(3), 0.5);
        Assert.Equal(28, p.Length);
        Assert.Equal("key " + p.Key + ". ", Data.Tokenizer.Decode(p.Tokens.AsSpan(p.StatementIndex, 11)));
        Assert.EndsWith("key? key ", Data.Tokenizer.Decode(p.Tokens));
        Assert.Throws<ArgumentOutOfRangeException>(() => b.PromptLengthForWindow(23));
    }

    [Fact]
    public void AVocabularyWithoutDigitsIsNamedInTheError()
    {
        var letters = CharTokenizer.FromText("the quick brown fox jumps over a lazy dog. why? ");
        Assert.Equal("0123456789", PasskeyPrompts.MissingCharacters(letters));
        var e = Assert.Throws<ArgumentException>(() => new PasskeyPrompts(letters, letters.Encode("the fox")));
        Assert.Contains("'0'", e.Message);
        Assert.Contains("'9'", e.Message);
        var extended = PasskeyPrompts.WithAlphabet(letters);
        Assert.Equal("", PasskeyPrompts.MissingCharacters(extended));
        Assert.Same(extended, PasskeyPrompts.WithAlphabet(extended));
    }

    [Fact]
    public void WithTokenizerKeepsTheText()
    {
        var plain = TextDataset.Synthetic(new SyntheticCorpusOptions { Seed = 3, Characters = 12_000 });
        Assert.NotEqual("", PasskeyPrompts.MissingCharacters(plain.Tokenizer));   // the test corpus lacks some digits
        Assert.Equal(plain.Tokenizer.Decode(plain.Tokens), Data.Tokenizer.Decode(Data.Tokens));
        Assert.Equal(plain.Validation.Length, Data.Validation.Length);
        Assert.Throws<ArgumentException>(() => plain.WithTokenizer(CharTokenizer.FromText("abc")));
    }
}

public class PasskeyProbeTests
{
    private static readonly CharTokenizer Tok = (CharTokenizer)PasskeyPromptTests.Data.Tokenizer;

    // Reads the prompt like a model that attends to the key: finds the statement, then emits its digits in turn.
    private static double[] Oracle(IReadOnlyList<int> tokens)
    {
        string text = Tok.Decode(tokens.ToArray());
        int key = text.IndexOf(PasskeyTemplate.Paper.StatementPrefix, StringComparison.Ordinal) + PasskeyTemplate.Paper.StatementPrefix.Length;
        int question = text.LastIndexOf(PasskeyTemplate.Paper.Question, StringComparison.Ordinal) + PasskeyTemplate.Paper.Question.Length;
        int produced = text.Length - question;
        var logits = new double[Tok.VocabSize];
        logits[Tok.Encode(text[key + produced].ToString())[0]] = 5;
        return logits;
    }

    private static double[] AlwaysSeven(IReadOnlyList<int> tokens)
    {
        var logits = new double[Tok.VocabSize];
        logits[Tok.Encode("7")[0]] = 1;
        return logits;
    }

    [Fact]
    public void AModelThatReadsTheKeyScoresEverything()
    {
        var b = PasskeyPromptTests.Builder();
        foreach (double depth in new[] { 0.0, 0.5, 1.0 })
        {
            var s = PasskeyProbe.Evaluate(NextTokenModel.FromFunction(Oracle), b, 256, depth, 20, PasskeyProbe.PromptSeed(1, 256, depth), TestContext.Current.CancellationToken);
            Assert.Equal(20, s.Count);
            Assert.Equal(20, s.Correct);
            Assert.Equal(1.0, s.Accuracy);
            Assert.Equal(1.0, s.DigitAccuracy);
            Assert.Equal(256 - 4, s.PromptLength);
        }
    }

    [Fact]
    public void AConstantDigitScoresAtChance()
    {
        var s = PasskeyProbe.Evaluate(NextTokenModel.FromFunction(AlwaysSeven), PasskeyPromptTests.Builder(), 128, 0.5, 200, 9, TestContext.Current.CancellationToken);
        Assert.True(s.Accuracy <= 0.1, $"exact match {s.Accuracy}");
        Assert.InRange(s.DigitAccuracy, 0.05, 0.15);
    }

    [Fact]
    public void GreedyDecodingFeedsEachDigitBackSoTheModelReadsTheWindow()
    {
        var seen = new List<int>();
        var model = NextTokenModel.FromFunction(t => { seen.Add(t.Count); return Oracle(t); });
        var p = PasskeyPromptTests.Builder().Build(PasskeyPromptTests.Builder().PromptLengthForWindow(100), new Rng(2));
        Assert.Equal(p.Answer, PasskeyProbe.GreedyAnswer(model, p));
        Assert.Equal([96, 97, 98, 99, 100], seen);
    }

    [Fact]
    public void TheGptAdapterMatchesAFullForwardPass()
    {
        var model = new Gpt(new GptConfig { VocabSize = Tok.VocabSize, ContextLength = 16, Layers = 1, Heads = 2, ModelDim = 16 }, seed: 4);
        model.Train();
        var prompt = PasskeyPromptTests.Data.Validation.Take(20).ToArray();
        double[] first, next;
        using (var adapter = new GptNextTokenModel(model))
        {
            first = adapter.Start(prompt);
            Assert.True(model.Training, "the adapter runs the eval-mode forward without switching the shared model");
            next = adapter.Append(3);
        }
        model.Eval();
        var full = model.Forward(Tensor.FromArray<int>([.. prompt, 3], [1, 21])).ToDoubleArray();
        int v = Tok.VocabSize;
        for (int i = 0; i < v; i++)
        {
            Assert.Equal(full[19 * v + i], first[i], 1e-4);
            Assert.Equal(full[20 * v + i], next[i], 1e-4);
        }
    }

    [Fact]
    public void AGptIsScoredInEvalModeAndLeftAsItWas()
    {
        var model = new Gpt(new GptConfig { VocabSize = Tok.VocabSize, ContextLength = 32, Layers = 1, Heads = 2, ModelDim = 16 }, seed: 1);
        model.Train();
        var s = PasskeyProbe.Evaluate(model, new PasskeyPrompts(Tok, PasskeyPromptTests.Data.Validation, PasskeyTemplate.Short), 64, 0.5, 3, 1, TestContext.Current.CancellationToken);
        Assert.Equal(3, s.Count);
        Assert.Equal(60, s.PromptLength);
        Assert.InRange(s.DigitAccuracy, 0, 1);
        Assert.True(model.Training);
    }

    [Fact]
    public void BadProbeArgumentsAreClearErrors()
    {
        var m = NextTokenModel.FromFunction(Oracle);
        var b = PasskeyPromptTests.Builder();
        Assert.Throws<ArgumentOutOfRangeException>(() => PasskeyProbe.Evaluate(m, b, 256, 0.5, 0, 1, TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasskeyProbe.Evaluate(m, b, 256, 2, 1, 1, TestContext.Current.CancellationToken));
        Assert.Throws<ArgumentOutOfRangeException>(() => PasskeyProbe.Evaluate(m, b, 40, 0.5, 1, 1, TestContext.Current.CancellationToken));
    }
}

public class PasskeySamplerTests
{
    private static readonly TextDataset Data = PasskeyPromptTests.Data;
    private const int T = 96;

    private static PasskeyBatchSampler Mixed(double fraction, ulong seed = 5) =>
        new(new BatchSampler(Data.Train, 8, T, seed), new PasskeyPrompts(Data.Tokenizer, Data.Train), fraction, 77);

    private static bool IsPasskeyRow(int[] x, int[] y, int row)
    {
        string input = Data.Tokenizer.Decode(x.AsSpan(row * T, T));
        string target = Data.Tokenizer.Decode(y.AsSpan(row * T, T));
        return input.Contains(PasskeyTemplate.Paper.StatementPrefix + target[^5..] + PasskeyTemplate.Paper.StatementSuffix, StringComparison.Ordinal)
            && input.EndsWith(PasskeyTemplate.Paper.Question + target[^5..^1], StringComparison.Ordinal);
    }

    [Fact]
    public void SavedStateReproducesTheSameBatches()
    {
        var a = Mixed(0.4);
        for (int i = 0; i < 3; i++) a.Next();
        var saved = a.State;
        var expected = Enumerable.Range(0, 4).Select(_ => a.Next()).Select(b => (b.Inputs.ToArray<int>(), b.Targets.ToArray<int>())).ToArray();
        var b = Mixed(0.4, seed: 999);
        b.Restore(saved);
        Assert.Equal(3, b.Batches);
        foreach (var (x, y) in expected)
        {
            var batch = b.Next();
            Assert.Equal(x, batch.Inputs.ToArray<int>());
            Assert.Equal(y, batch.Targets.ToArray<int>());
        }
    }

    [Fact]
    public void TheFractionOfRowsArePasskeyWindowsWithShiftedTargets()
    {
        var all = Mixed(1.0).Next();
        var x = all.Inputs.ToArray<int>();
        var y = all.Targets.ToArray<int>();
        for (int r = 0; r < 8; r++)
        {
            Assert.True(IsPasskeyRow(x, y, r), $"row {r} is a passkey window");
            Assert.Equal(x.AsSpan(r * T + 1, T - 1).ToArray(), y.AsSpan(r * T, T - 1).ToArray());
        }
        // Fraction 0 is the plain sampler, batch for batch.
        var none = Mixed(0.0).Next().Inputs.ToArray<int>();
        Assert.Equal(new BatchSampler(Data.Train, 8, T, 5).Next().Inputs.ToArray<int>(), none);
        // 0.25 of 8 rows is exactly 2 per batch.
        var quarter = Mixed(0.25);
        for (int i = 0; i < 5; i++)
        {
            var b = quarter.Next();
            var bx = b.Inputs.ToArray<int>();
            var by = b.Targets.ToArray<int>();
            Assert.Equal(2, Enumerable.Range(0, 8).Count(r => IsPasskeyRow(bx, by, r)));
        }
    }

    [Fact]
    public void AnswerOnlyRowsScoreJustTheFiveDigits()
    {
        var sampler = new PasskeyBatchSampler(new BatchSampler(Data.Train, 8, T, 5), new PasskeyPrompts(Data.Tokenizer, Data.Train), 0.5, 77, answerOnly: true);
        var plain = new PasskeyBatchSampler(new BatchSampler(Data.Train, 8, T, 5), new PasskeyPrompts(Data.Tokenizer, Data.Train), 0.5, 77);
        var batch = sampler.Next();
        var reference = plain.Next();
        Assert.Equal(PasskeyBatchSampler.IgnoreTarget, batch.IgnoreIndex);
        Assert.Null(reference.IgnoreIndex);
        Assert.Equal(reference.Inputs.ToArray<int>(), batch.Inputs.ToArray<int>());
        var y = batch.Targets.ToArray<int>();
        var full = reference.Targets.ToArray<int>();
        var x = reference.Inputs.ToArray<int>();
        int masked = 0;
        for (int r = 0; r < 8; r++)
        {
            var row = y.AsSpan(r * T, T).ToArray();
            if (IsPasskeyRow(x, full, r))
            {
                masked++;
                Assert.All(row[..^5], v => Assert.Equal(PasskeyBatchSampler.IgnoreTarget, v));
                Assert.Equal(full.AsSpan(r * T + T - 5, 5).ToArray(), row[^5..]);
            }
            else Assert.Equal(full.AsSpan(r * T, T).ToArray(), row);
        }
        Assert.Equal(4, masked);
        var model = new Gpt(new GptConfig { VocabSize = Data.Tokenizer.VocabSize, ContextLength = T, Layers = 1, Heads = 2, ModelDim = 16 });
        double loss = model.Loss(batch.Inputs, batch.Targets, batch.IgnoreIndex).Item();
        Assert.True(double.IsFinite(loss));
    }

    [Fact]
    public void BadFractionsAndShortContextsAreClearErrors()
    {
        foreach (double f in new[] { -0.1, 1.5, double.NaN })
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => Mixed(f));
            Assert.Contains("outside [0, 1]", e.Message);
        }
        var prompts = new PasskeyPrompts(Data.Tokenizer, Data.Train);
        var shortContext = Assert.Throws<ArgumentOutOfRangeException>(() => new PasskeyBatchSampler(new BatchSampler(Data.Train, 2, 32, 1), prompts, 0.5, 1));
        Assert.Contains("too short", shortContext.Message);
    }

    [Fact]
    public void ATrainerWithThePasskeyMixResumesExactly()
    {
        var model = new GptConfig { ContextLength = T, Layers = 1, Heads = 2, ModelDim = 16 };
        var config = new TrainerConfig { BatchSize = 4, Steps = 4, WarmupSteps = 1, EvalInterval = 2, EvalTokens = 192, Seed = 3 };
        Func<BatchSampler, IBatchSource> mix = s => new PasskeyBatchSampler(s, new PasskeyPrompts(Data.Tokenizer, Data.Train), 0.5, 8);
        using var straightDir = new TempDir();
        using var splitDir = new TempDir();
        var straight = new Trainer(model, config, Data, straightDir.Path, mix);
        Assert.IsType<PasskeyBatchSampler>(straight.Sampler);
        straight.Run(TestContext.Current.CancellationToken);
        using var cancel = new CancellationTokenSource();
        var first = new Trainer(model, config, Data, splitDir.Path, mix) { Progress = p => { if (p.Step == 2) cancel.Cancel(); } };
        first.Run(cancel.Token);
        var resumed = Trainer.Resume(splitDir.Path, data: Data, batches: mix);
        resumed.Run(TestContext.Current.CancellationToken);
        var a = straight.Model.StateDict();
        var b = resumed.Model.StateDict();
        foreach (var (name, t) in a) Assert.Equal(t.ToArray<float>(), b[name].ToArray<float>());
        Assert.Throws<ArgumentException>(() => new Trainer(model, config, Data, null, s => new BatchSampler(Data.Train, 2, T, 1)));
    }
}
