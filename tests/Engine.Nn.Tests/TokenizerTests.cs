using System.Text;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;

namespace Engine.Nn.Tests;

public class Gpt2TokenizerTests
{
    private const string Mixed = "Hello, world! Ünïcödé — naïve café, 日本語のテキスト, emoji 😀👍🏽 and a family 👨‍👩‍👧.\n\ttabs  and   spaces";

    [Theory]
    [InlineData("hello world")]
    [InlineData(Mixed)]
    [InlineData("🙂")]
    [InlineData("<|endoftext|> is literal text here")]
    public void EncodeThenDecodeGivesTheTextBack(string text)
    {
        var tok = Gpt2Tokenizer.Full;
        var t = tok.Tokenize(text);
        Assert.All(t.Ids, id => Assert.InRange(id, 0, Gpt2Tokenizer.FullVocabSize - 1));
        Assert.Equal(text, tok.Decode(t.Ids));
        Assert.Equal(Encoding.UTF8.GetByteCount(text), t.Bytes);
        Assert.Equal(0, t.UnknownCount);
        // Each token's byte length is that of its own bytes.
        for (int i = 0; i < t.Ids.Length; i++) Assert.Equal(Gpt2Tokenizer.OriginalBytes(t.Ids[i]).Length, t.ByteLengths[i]);
    }

    [Fact]
    public void HelloWorldHasTheKnownGpt2Ids()
    {
        var t = Gpt2Tokenizer.Full.Tokenize("hello world");
        Assert.Equal([31373, 995], t.Ids);
        Assert.Equal([5, 6], t.ByteLengths);
        Assert.Equal(TokenizerKind.Gpt2, Gpt2Tokenizer.Full.Kind);
        Assert.Equal(50257, Gpt2Tokenizer.Full.VocabSize);
    }

    [Fact]
    public void AnEmojiSplitAcrossTokensDecodesWholeButNotAlone()
    {
        var ids = Gpt2Tokenizer.Full.Encode("😀");
        Assert.True(ids.Length > 1, "GPT-2 spells this emoji with several byte tokens");
        Assert.Equal("😀", Gpt2Tokenizer.Full.Decode(ids));
        Assert.Contains('\uFFFD', Gpt2Tokenizer.Full.Decode(ids[0]));
    }

    [Fact]
    public void AnUnpairedSurrogateIsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => Gpt2Tokenizer.Full.Encode("ab\uD800c"));
        Assert.Contains("unpaired surrogate U+D800 at UTF-16 index 2", e.Message);
    }

    [Fact]
    public void TheUsedVariantKeepsTheCorpusIdsInAscendingOrderPlusAnUnknownId()
    {
        var tok = Gpt2Tokenizer.FromText("world hello hello world");
        var original = Gpt2Tokenizer.EncodeOriginal("world hello hello world");
        Assert.Equal(original.Distinct().Order(), tok.KeptIds!);
        Assert.Equal(TokenizerKind.Gpt2Used, tok.Kind);
        Assert.Equal(tok.KeptIds!.Count + 1, tok.VocabSize);
        Assert.Equal(tok.KeptIds.Count, tok.UnknownId);
        Assert.Equal("world hello hello world", tok.Decode(tok.Encode("world hello hello world")));
        // The order is by GPT-2 id, not by first appearance: another text with the same ids gives the same tokenizer.
        var again = Gpt2Tokenizer.FromText("hello world world hello");
        Assert.Equal(Gpt2Tokenizer.EncodeOriginal("hello world world hello").Distinct().Order(), again.KeptIds!);
        Assert.Equal(tok.ToJson(), Gpt2Tokenizer.FromIds(original.Distinct().Reverse()).ToJson());
    }

    [Fact]
    public void TokensOutsideTheKeptSetAreUnknownCountedAndKeepTheirBytes()
    {
        var tok = Gpt2Tokenizer.FromText("hello world");   // keeps " world" (995) → 0 and "hello" (31373) → 1
        Assert.Equal([995, 31373], tok.KeptIds!);
        var t = tok.Tokenize("hello there world");
        Assert.Equal([1, 2, 0], t.Ids);                     // " there" is not kept: the unknown id 2
        Assert.Equal([5, 6, 6], t.ByteLengths);             // the unknown token still stands for 6 bytes
        Assert.Equal(1, t.UnknownCount);
        Assert.Equal("hello\uFFFD world", tok.Decode(t.Ids));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => tok.Decode([3]));
        Assert.Contains("token id 3 at position 0 is outside the vocabulary [0, 3)", e.Message);
    }

    [Fact]
    public void JsonRoundTripsAndBadVocabulariesAreRefused()
    {
        var used = Gpt2Tokenizer.FromText(Mixed);
        var back = Tokenizer.Parse(used.ToJson());
        Assert.True(back.SameAs(used));
        Assert.False(back.SameAs(Gpt2Tokenizer.Full));
        Assert.Same(Gpt2Tokenizer.Full, Tokenizer.Parse("{\"kind\":\"gpt2\"}"));
        Assert.Equal("{\"kind\":\"gpt2-used\",\"ids\":[995,31373],\"unknown_id\":2}", Gpt2Tokenizer.FromText("hello world").ToJson());
        Assert.Contains("ascending", Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2-used\",\"ids\":[31373,995]}")).Message);
        Assert.Contains("ascending", Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2-used\",\"ids\":[5,5]}")).Message);
        Assert.Contains("[0, 50257)", Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2-used\",\"ids\":[50257]}")).Message);
        Assert.Contains("unknown_id", Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2-used\",\"ids\":[1,2],\"unknown_id\":0}")).Message);
        Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2-used\",\"ids\":[]}"));
        Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"gpt2\",\"ids\":[1]}"));
        Assert.Contains("unknown kind \"bpe\"", Assert.Throws<FormatException>(() => Tokenizer.Parse("{\"kind\":\"bpe\"}")).Message);
    }

    [Fact]
    public void KindNamesParseAndABadOneIsNamedWithTheChoices()
    {
        Assert.Equal(TokenizerKind.Gpt2Used, Tokenizer.ParseKind(" GPT2-Used "));
        foreach (var kind in Enum.GetValues<TokenizerKind>()) Assert.Equal(kind, Tokenizer.ParseKind(Tokenizer.Name(kind)));
        var e = Assert.Throws<ArgumentException>(() => Tokenizer.ParseKind("bpe", "--tokenizer"));
        Assert.StartsWith("--tokenizer must be char, gpt2 or gpt2-used (", e.Message);
        Assert.EndsWith("got 'bpe'", e.Message);
    }
}

public class CharTokenizerBytesTests
{
    [Fact]
    public void EachCharacterCountsItsUtf8Bytes()
    {
        var tok = CharTokenizer.FromText("aé😀");
        var t = tok.Tokenize("é😀a");
        Assert.Equal([2, 4, 1], t.ByteLengths);
        Assert.Equal(0, t.UnknownCount);
        Assert.Equal(TokenizerKind.Char, tok.Kind);
        // Older checkpoints' vocabularies without a "kind" read as char.
        Assert.True(Tokenizer.Parse("{\"symbols\":[\"a\",\"b\"]}").SameAs(CharTokenizer.FromText("ba")));
        Assert.False(tok.SameAs(Gpt2Tokenizer.Full));
    }
}

public class BitsPerByteTests
{
    private static Func<Tensor, Tensor> Uniform(int vocab) => x => Tensor.Zeros([x.Dim(0), x.Dim(1), vocab]);

    [Fact]
    public void ForCharsOnAsciiBitsPerByteIsLossOverLn2()
    {
        var data = TextDataset.Synthetic(new SyntheticCorpusOptions { Characters = 3000 });
        Assert.Equal(data.Validation.Length, data.ValidationBytes.Length);
        Assert.All(data.TokenBytes, b => Assert.Equal(1, b));
        var model = new Gpt(new GptConfig { VocabSize = data.Tokenizer.VocabSize, ContextLength = 16, Layers = 1, Heads = 2, ModelDim = 8 }, 3);
        var ev = new Evaluator(data.Validation, 16, 128, tokenBytes: data.ValidationBytes);
        var r = ev.EvaluateByPosition(model);
        Assert.Equal(ev.ScoredTokens, r.ScoredBytes);
        Assert.Equal(r.MeanLoss / Math.Log(2), r.BitsPerByte, 12);
    }

    [Fact]
    public void ForBpeBitsPerByteCountsTheBytesOfExactlyTheScoredTokens()
    {
        // "hello world" is GPT-2 [31373, 995]: "hello" (5 bytes), " world" (6 bytes); kept as 1 and 0, unknown 2.
        var tok = Gpt2Tokenizer.FromText("hello world");
        var t = tok.Tokenize("hello world");
        var ev = new Evaluator(t.Ids, length: 1, spanTokens: 16, tokenBytes: t.ByteLengths);
        var r = ev.EvaluateByPosition(Uniform(tok.VocabSize));
        // One window predicts " world" from "hello": uniform over 3 ids is ln 3 nats for 6 bytes.
        Assert.Equal(6, r.ScoredBytes);
        Assert.Equal(Math.Log(3), r.MeanLoss, 12);
        Assert.Equal(Math.Log(3) / (Math.Log(2) * 6), r.BitsPerByte, 12);

        // Windows tile the span: with L = 2 and a span of 4 the targets are tokens 1 … 4, whose bytes are 2 + 3 + 4 + 5.
        var tiled = new Evaluator([0, 1, 0, 1, 0, 1], length: 2, spanTokens: 4, tokenBytes: [1, 2, 3, 4, 5, 6]);
        Assert.Equal(14, tiled.ScoredBytes);
        var u = tiled.EvaluateByPosition(Uniform(3));
        Assert.Equal(4 * Math.Log(3) / (Math.Log(2) * 14), u.BitsPerByte, 12);
        Assert.True(double.IsNaN(new Evaluator([0, 1, 0], 1).EvaluateByPosition(Uniform(3)).BitsPerByte));
        Assert.Throws<ArgumentException>(() => new Evaluator([0, 1, 0], 1, tokenBytes: [1, 1]));
    }

    [Fact]
    public void ABpeDatasetKeepsTheBytesOfItsText()
    {
        var options = new SyntheticCorpusOptions { Characters = 3000 };
        var text = SyntheticCorpus.Generate(options);
        var data = TextDataset.Synthetic(options, kind: TokenizerKind.Gpt2Used);
        Assert.Equal(TokenizerKind.Gpt2Used, data.Tokenizer.Kind);
        Assert.Equal(0, data.UnknownTokens);
        Assert.Equal(Encoding.UTF8.GetByteCount(text), data.TokenBytes.Sum());
        Assert.True(data.Tokens.Length < text.Length / 2, "BPE makes fewer tokens than characters");
        Assert.Equal(text, data.Tokenizer.Decode(data.Tokens));
        Assert.Equal(data.TokenBytes[^data.Validation.Length..], data.ValidationBytes);
    }
}

public class CheckpointTokenizerTests
{
    private static CheckpointMetadata Meta(Tokenizer tokenizer) => new()
    {
        Step = 1,
        ModelJson = "{\"layers\":2}",
        Tokenizer = tokenizer,
        Data = DataSource.FromSynthetic(new SyntheticCorpusOptions { Seed = 3, Characters = 1000 }),
    };

    private static CheckpointReader SaveAndOpen(TempDir dir, Tokenizer tokenizer)
    {
        Checkpoint.Save(new CheckpointStore(dir.Path), Meta(tokenizer), [new("w", Tensor.Ones([2]))]);
        return Checkpoint.Open(dir.Path);
    }

    [Fact]
    public void AGpt2CheckpointLoadsWithGpt2AndRefusesChar()
    {
        using var dir = new TempDir();
        var r = SaveAndOpen(dir, Gpt2Tokenizer.Full);
        Assert.Same(Gpt2Tokenizer.Full, r.Metadata.Tokenizer);
        r.RequireTokenizer(TokenizerKind.Gpt2, "--tokenizer gpt2");
        var e = Assert.Throws<CheckpointException>(() => r.RequireTokenizer(TokenizerKind.Char, "--tokenizer char"));
        Assert.Equal($"{r.Directory}: the checkpoint was trained with the gpt2 (50,257 ids) tokenizer, but --tokenizer char asks for 'char'", e.Message);
    }

    [Fact]
    public void ACharCheckpointRefusesGpt2AndAUsedOneKeepsItsIds()
    {
        using (var dir = new TempDir())
        {
            var r = SaveAndOpen(dir, CharTokenizer.FromText("abc"));
            r.RequireTokenizer(TokenizerKind.Char, "eval");
            var e = Assert.Throws<CheckpointException>(() => r.RequireTokenizer(TokenizerKind.Gpt2, "--tokenizer gpt2"));
            Assert.Contains("trained with the char (3 symbols) tokenizer, but --tokenizer gpt2 asks for 'gpt2'", e.Message);
        }
        using (var dir = new TempDir())
        {
            var used = Gpt2Tokenizer.FromText("hello world");
            var r = SaveAndOpen(dir, used);
            Assert.True(r.Metadata.Tokenizer.SameAs(used));
            Assert.Equal([995, 31373], ((Gpt2Tokenizer)r.Metadata.Tokenizer).KeptIds!);
            Assert.Throws<CheckpointException>(() => r.RequireTokenizer(TokenizerKind.Gpt2, "--tokenizer gpt2"));
        }
    }

    [Fact]
    public void ResumingOnDataWithAnotherTokenizerIsRefused()
    {
        using var dir = new TempDir();
        var options = new SyntheticCorpusOptions { Characters = 3000 };
        var config = new Training.TrainerConfig { BatchSize = 2, Steps = 1, EvalInterval = 1, EvalTokens = 32, WarmupSteps = 0 };
        var model = new GptConfig { ContextLength = 8, Layers = 1, Heads = 2, ModelDim = 8 };
        var trainer = new Training.Trainer(model, config, TextDataset.Synthetic(options, kind: TokenizerKind.Gpt2Used), dir.Path);
        trainer.Run(TestContext.Current.CancellationToken);
        var e = Assert.Throws<CheckpointException>(() => Training.Trainer.Resume(dir.Path, data: TextDataset.Synthetic(options)));
        Assert.Contains("the checkpoint was trained with the gpt2-used (", e.Message);
        Assert.Contains("but the dataset is tokenized with char (", e.Message);
    }
}
