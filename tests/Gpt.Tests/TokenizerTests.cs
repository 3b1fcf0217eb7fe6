namespace Engine.Examples.Gpt.Tests;

/// <summary>--tokenizer on the training commands; eval and sample take the tokenizer from the checkpoint.</summary>
public class TokenizerTests
{
    [Fact]
    public void TrainWithGpt2RunsEndToEndAndEvalReportsBitsPerByte()
    {
        using var dir = new TempDir();
        string run = dir["run"];
        var r = Cli.Run(ResumeTests.Tiny(run, "--tokenizer", "gpt2", "--steps", "3"));
        Assert.True(r.ExitCode == 0, r.Error);
        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "step-00000003", "checkpoint.json")));
        Assert.Equal("gpt2", json.RootElement.GetProperty("tokenizer").GetProperty("kind").GetString());
        Assert.Equal(50257, Engine.Nn.GptConfig.FromJson(json.RootElement.GetProperty("model").GetRawText()).VocabSize);

        r = Cli.Run("eval", "--checkpoint", run, "--lengths", "8,16", "--eval-tokens", "64");
        Assert.True(r.ExitCode == 0, r.Error);
        var csv = File.ReadAllLines(Path.Combine(run, "eval-step-00000003.csv"));
        Assert.EndsWith(",val_loss,windows,tokens,bytes,bits_per_byte", csv[0]);
        var row = csv[1].Split(',');
        double loss = double.Parse(row[5], System.Globalization.CultureInfo.InvariantCulture);
        long tokens = long.Parse(row[7], System.Globalization.CultureInfo.InvariantCulture), bytes = long.Parse(row[8], System.Globalization.CultureInfo.InvariantCulture);
        double bpb = double.Parse(row[9], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(bytes > tokens, "GPT-2 tokens of English text are longer than a byte");
        Assert.Equal(loss * tokens / (Math.Log(2) * bytes), bpb, 9);

        Assert.Equal(0, Cli.Run("sample", "--checkpoint", run, "--prompt", "The ", "--tokens", "3").ExitCode);
    }

    [Fact]
    public void ResumeRefusesAnotherTokenizerNamingBoth()
    {
        using var dir = new TempDir();
        string run = dir["run"];
        Assert.Equal(0, Cli.Run(ResumeTests.Tiny(run, "--tokenizer", "gpt2-used", "--steps", "2")).ExitCode);
        var r = Cli.Run("train", "--out", run, "--resume", "--steps", "3", "--tokenizer", "char");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith($"gpt: --resume continues {Path.Combine(run, "step-00000002")} as it was configured; these options contradict it: --tokenizer char (the checkpoint has gpt2-used)", r.Error);
        Assert.Equal(0, Cli.Run("train", "--out", run, "--resume", "--steps", "3", "--tokenizer", "gpt2-used").ExitCode);
    }

    [Fact]
    public void ABadTokenizerIsAOneLineErrorNamingTheChoices()
    {
        using var dir = new TempDir();
        var r = Cli.Run("train", "--tokenizer", "bpe", "--out", dir["run"]);
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("gpt: --tokenizer must be char, gpt2 or gpt2-used (", r.Error);
        Assert.EndsWith("got 'bpe'", r.Error);
        Assert.DoesNotContain("\n", r.Error);

        r = Cli.Run("passkey", "--tokenizer", "gpt2", "--out", dir["passkey"]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: passkey needs --tokenizer char (the prompts count characters and the key is five one-digit tokens), got 'gpt2'", r.Error);
    }

    [Fact]
    public void ExtrapolateWithTheUsedIdsWritesBitsPerByte()
    {
        using var dir = new TempDir();
        var r = Cli.Run("extrapolate", "--tokenizer", "gpt2-used", "--layers", "1", "--heads", "2", "--dim", "8", "--context", "8", "--steps", "2", "--batch", "2",
            "--synthetic-chars", "4000", "--factors", "1,2", "--variants", "softmax", "--attention-tokens", "0", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.Error);
        var csv = File.ReadAllLines(dir["results.csv"]);
        Assert.Equal("variant,seed,train_len,eval_len,val_loss,tokens,bytes,bits_per_byte", csv[0]);
        Assert.All(csv.Skip(1), line => Assert.True(double.IsFinite(double.Parse(line.Split(',')[7], System.Globalization.CultureInfo.InvariantCulture))));
        Assert.Contains("Bits per byte", File.ReadAllText(dir["results.md"]));
    }
}
