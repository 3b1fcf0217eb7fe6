
namespace Engine.Examples.Gpt.Tests;

public class ExtrapolateTests
{
    [Fact]
    public void AWindowOfAtLeastLTrainsAsItsFullContextBase()
    {
        var settings = new ExtrapolateCommand.Settings { Context = 16, Window = 16 };
        var variants = ExtrapolateCommand.ParseVariants("softmax,sliding,softmax-w8", settings);
        Assert.Equal(AttentionSpec.Softmax, variants[1].Train);
        Assert.Equal(AttentionSpec.SlidingWindow(16), variants[1].Eval);
        // A window shorter than L changes training, so it keeps its own model.
        Assert.Equal(AttentionSpec.SlidingWindow(8), variants[2].Train);
    }

    [Fact]
    public void SlidingSharesTheSoftmaxModelAndMatchesItAtL()
    {
        using var dir = new TempDir();
        var r = Cli.Run("extrapolate", "--layers", "1", "--heads", "2", "--dim", "8", "--context", "8", "--steps", "40", "--batch", "2",
            "--synthetic-chars", "4000", "--factors", "1,2", "--variants", "softmax,sliding", "--attention-tokens", "0", "--out", dir.Path);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(["softmax"], Directory.GetDirectories(dir["runs"]).Select(Path.GetFileName));
        var rows = File.ReadAllLines(dir["results.csv"]).Skip(1).Select(l => l.Split(',')).ToList();
        string Loss(string variant, string length) => rows.Single(x => x[0] == variant && x[3] == length)[4];
        Assert.Equal(Loss("softmax", "8"), Loss("sliding", "8"));
        Assert.NotEqual(Loss("softmax", "16"), Loss("sliding", "16"));
        // The report's first line is this run's command, not the test host's.
        Assert.StartsWith("gpt extrapolate --layers 1 --heads 2", File.ReadAllLines(dir["results.md"])[3]);
    }
}
