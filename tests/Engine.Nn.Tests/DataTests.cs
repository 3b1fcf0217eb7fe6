using System.Text;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;

namespace Engine.Nn.Tests;

public class DataTokenizerTests
{
    [Fact]
    public void VocabularyIsSortedDistinctCodePoints()
    {
        var tok = CharTokenizer.FromText("banana, é😀\n");
        Assert.Equal(["\n", " ", ",", "a", "b", "n", "é", "😀"], tok.Symbols);
        var ids = tok.Encode("nab😀");
        Assert.Equal([5, 3, 4, 7], ids);
        Assert.Equal("nab😀", tok.Decode(ids));
    }

    [Fact]
    public void UnknownCharacterIsAClearError()
    {
        var tok = CharTokenizer.FromText("abc");
        var e = Assert.Throws<ArgumentException>(() => tok.Encode("abz"));
        Assert.Contains("'z'", e.Message);
        Assert.Contains("position 2", e.Message);
    }

    [Fact]
    public void TokenIdOutsideVocabularyIsAClearError()
    {
        var tok = CharTokenizer.FromText("abc");
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([0, 3]));
        Assert.Contains("token id 3", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([-1]));
    }

    [Fact]
    public void JsonRoundTripAndRejectsPermutedVocabulary()
    {
        var tok = CharTokenizer.FromText("Hello, \"world\"\n\t😀");
        var back = CharTokenizer.FromJson(tok.ToJson());
        Assert.Equal(tok.Symbols, back.Symbols);
        Assert.Throws<FormatException>(() => CharTokenizer.FromJson("{\"kind\":\"char\",\"symbols\":[\"b\",\"a\"]}"));
        Assert.Throws<FormatException>(() => CharTokenizer.FromJson("{\"kind\":\"char\",\"symbols\":[\"ab\"]}"));
        Assert.Throws<FormatException>(() => CharTokenizer.FromJson("{\"kind\":\"char\",\"symbols\":[\"a\",\"a\"]}"));
        Assert.Throws<FormatException>(() => CharTokenizer.FromJson("{\"kind\":\"bpe\"}"));
        Assert.Throws<FormatException>(() => CharTokenizer.FromJson("{"));
    }

    [Fact]
    public void InvalidUtf8IsRejectedNotReplaced()
    {
        var e = Assert.Throws<ArgumentException>(() => CharTokenizer.DecodeUtf8([(byte)'a', 0xC3, 0x28], "corpus"));
        Assert.Contains("UTF-8", e.Message);
    }
}

public class DataCorpusTests
{
    private static readonly SyntheticCorpusOptions Small = new() { Seed = 7, Characters = 20_000 };

    [Fact]
    public void SameSeedSameBytesDifferentSeedDifferentBytes()
    {
        var a = SyntheticCorpus.Generate(Small);
        var b = SyntheticCorpus.Generate(Small);
        var c = SyntheticCorpus.Generate(Small with { Seed = 8 });
        Assert.Equal(20_000, a.Length);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.True(a.All(ch => ch < 128), "the corpus is ASCII");
    }

    [Fact]
    public void GoldenHashPinsTheGenerator()
    {
        // The generator uses only Rng and integer arithmetic, so these bytes are the same on every machine.
        // A change of this hash means the default corpus changed: update docs/corpus.md with it.
        var text = SyntheticCorpus.Generate(new SyntheticCorpusOptions { Seed = 1, Characters = 50_000 });
        Assert.Equal(GoldenSha256, TextDataset.Sha256Hex(Encoding.UTF8.GetBytes(text)));
    }

    internal const string GoldenSha256 = "bb909ce1e612bbb9fc8d972a44f0e422717a18708ec0968e0bf93f87546acff6";

    [Fact]
    public void PrefixIsStableAcrossLengths()
    {
        var shortText = SyntheticCorpus.Generate(Small with { Characters = 5_000 });
        Assert.StartsWith(shortText, SyntheticCorpus.Generate(Small));
    }

    [Fact]
    public void FactsRecurFarApart()
    {
        var (text, stats) = SyntheticCorpus.GenerateWithStatistics(new SyntheticCorpusOptions { Seed = 3, Characters = 200_000 });
        Assert.True(stats.Documents > 30);
        Assert.True(stats.Entities >= 3 * stats.Documents - 5);
        Assert.True(stats.Recalls > stats.Entities);
        var d = stats.RecallDistances;
        Assert.True(d.Min() >= 120, "recalls are at least 120 characters after the previous mention");
        int between = d.Count(x => x > 128 && x <= 1024);
        Assert.True(between > d.Count / 2, $"most recalls reach back between 128 and 1024 characters ({between} of {d.Count})");
        Assert.Contains("Chapter 1.\n", text);
    }

    [Fact]
    public void RecalledFactMatchesItsIntroduction()
    {
        var text = SyntheticCorpus.Generate(new SyntheticCorpusOptions { Seed = 5, Characters = 100_000 });
        // Every "X still kept the Y." must follow an introduction where X "kept the Y" in the same chapter.
        var chapters = text.Split("Chapter ");
        int checkedRecalls = 0;
        foreach (var ch in chapters)
        {
            foreach (var m in System.Text.RegularExpressions.Regex.Matches(ch, @"([A-Z][a-z]+) still kept the ([a-z]+ [a-z]+)\.").Cast<System.Text.RegularExpressions.Match>())
            {
                string name = m.Groups[1].Value, item = m.Groups[2].Value;
                int at = m.Index;
                string before = ch[..at];
                Assert.True(before.Contains($"{name} came from the") || before.Contains($"lived {name}"), $"{name} recalled before being introduced");
                Assert.Contains($"kept the {item}.", before);
                checkedRecalls++;
            }
        }
        Assert.True(checkedRecalls > 10);
    }

    [Fact]
    public void RejectsBadLength()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticCorpus.Generate(new SyntheticCorpusOptions { Characters = 0 }));
    }
}

public class DataSplitAndSamplerTests
{
    [Fact]
    public void SplitHoldsOutTheLastTenth()
    {
        var ds = TextDataset.FromText(new string('a', 50) + new string('b', 50), new DataSource { Kind = "file", Path = "x" });
        Assert.Equal(90, ds.Train.Length);
        Assert.Equal(10, ds.Validation.Length);
        Assert.All(ds.Validation, t => Assert.Equal(1, t));
        Assert.Throws<ArgumentException>(() => TextDataset.FromText("abc", new DataSource { Kind = "file", Path = "x" }));
    }

    [Fact]
    public void FileCorpusAndHashCheck()
    {
        var path = Path.Combine(Path.GetTempPath(), $"engine-corpus-{Guid.NewGuid():N}.txt");
        try
        {
            File.WriteAllText(path, string.Concat(Enumerable.Repeat("to be or not to be\n", 20)));
            var ds = TextDataset.FromFile(path);
            Assert.Equal("file", ds.Source.Kind);
            var again = TextDataset.Load(ds.Source, ds.Tokenizer);
            Assert.Equal(ds.Tokens, again.Tokens);
            File.AppendAllText(path, "x");
            var e = Assert.Throws<ArgumentException>(() => TextDataset.Load(ds.Source, ds.Tokenizer));
            Assert.Contains("SHA-256", e.Message);
        }
        finally { File.Delete(path); }
        Assert.Throws<FileNotFoundException>(() => TextDataset.FromFile(path));
    }

    [Fact]
    public void BatchesAreWindowsWithShiftedTargets()
    {
        var tokens = Enumerable.Range(0, 1000).ToArray();
        var s = new BatchSampler(tokens, 4, 16, 42);
        var b = s.Next();
        Assert.Equal([4, 16], b.Inputs.Shape);
        Assert.Equal(DType.Int32, b.Inputs.DType);
        var x = b.Inputs.ToArray<int>();
        var y = b.Targets.ToArray<int>();
        for (int r = 0; r < 4; r++)
            for (int t = 0; t < 16; t++)
            {
                Assert.Equal(x[r * 16] + t, x[r * 16 + t]);
                Assert.Equal(x[r * 16 + t] + 1, y[r * 16 + t]);
            }
    }

    [Fact]
    public void WindowsReachBothEndsOfTheSequence()
    {
        var tokens = Enumerable.Range(0, 10).ToArray();
        var s = new BatchSampler(tokens, 64, 8, 1);
        var starts = s.Next().Inputs.ToArray<int>().Where((_, i) => i % 8 == 0).ToHashSet();
        Assert.Equal([0, 1], starts.Order());
        Assert.Throws<ArgumentException>(() => new BatchSampler(tokens, 1, 10, 1));
    }

    [Fact]
    public void RestoredStateContinuesTheSameStream()
    {
        var tokens = Enumerable.Range(0, 500).ToArray();
        var a = new BatchSampler(tokens, 3, 8, 9);
        for (int i = 0; i < 5; i++) a.Next();
        var saved = a.State;
        var expected = Enumerable.Range(0, 5).Select(_ => a.Next().Inputs.ToArray<int>()).ToArray();
        var b = new BatchSampler(tokens, 3, 8, 12345);
        b.Restore(saved);
        Assert.Equal(5, b.Batches);
        foreach (var e in expected) Assert.Equal(e, b.Next().Inputs.ToArray<int>());
    }
}

public class DataEvaluatorTests
{
    private static Func<Tensor, Tensor> Uniform(int vocab) => x => Tensor.Zeros([x.Dim(0), x.Dim(1), vocab]);

    [Fact]
    public void UniformLogitsGiveLogVocab()
    {
        var tokens = Enumerable.Range(0, 300).Select(i => i % 7).ToArray();
        var ev = new Evaluator(tokens, 32, spanTokens: 256);
        Assert.Equal(8, ev.Windows);
        Assert.Equal(Math.Log(7), ev.Evaluate(Uniform(7)), 12);
    }

    [Fact]
    public void SameTokensScoredAtEveryLengthAndBatchingDoesNotMatter()
    {
        // The sequence follows t' = (t + 7) mod 11; a "model" that knows the rule has (almost) zero loss.
        var tokens = Enumerable.Range(0, 2000).Select(i => (i * 7 + 3) % 11).ToArray();
        Func<Tensor, Tensor> model = x =>
        {
            int b = x.Dim(0), t = x.Dim(1);
            var ids = x.ToArray<int>();
            var logits = new float[b * t * 11];
            for (int i = 0; i < b * t; i++) logits[i * 11 + (ids[i] + 7) % 11] = 1000;
            return Tensor.FromArray<float>(logits, [b, t, 11]);
        };
        foreach (int len in new[] { 16, 64, 256 })
        {
            var a = new Evaluator(tokens, len, spanTokens: 1024, maxBatchTokens: len);
            var b = new Evaluator(tokens, len, spanTokens: 1024, maxBatchTokens: 100_000);
            Assert.Equal(1024, a.ScoredTokens);
            Assert.Equal(a.Evaluate(model), b.Evaluate(model), 12);
            Assert.True(a.Evaluate(model) < 1e-9);
        }
    }

    [Fact]
    public void BadInputsAreClearErrors()
    {
        var tokens = Enumerable.Range(0, 10).ToArray();
        Assert.Throws<ArgumentException>(() => new Evaluator(tokens, 10));
        var ev = new Evaluator(tokens, 4);
        Assert.Contains("vocabulary", Assert.Throws<ArgumentException>(() => ev.Evaluate(Uniform(5))).Message);
        Assert.Contains("shape", Assert.Throws<ArgumentException>(() => ev.Evaluate(x => Tensor.Zeros([1, 1, 10]))).Message);
        Assert.Contains("non-finite", Assert.Throws<ArgumentException>(() => ev.Evaluate(x => Tensor.Full([x.Dim(0), x.Dim(1), 10], double.NaN))).Message);
    }
}
