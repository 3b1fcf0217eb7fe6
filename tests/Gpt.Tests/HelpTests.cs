namespace Engine.Examples.Gpt.Tests;

/// <summary>Every command's --help renders: option descriptions are console markup, so a bracket must be doubled ([[ and ]]).</summary>
public class HelpTests
{
    public static TheoryData<string> Commands() => ["train", "eval", "sample", "extrapolate", "passkey", "attention"];

    [Theory]
    [MemberData(nameof(Commands))]
    public void CommandHelpRenders(string command)
    {
        var r = Cli.Run(command, "--help");
        Assert.True(r.ExitCode == 0, $"gpt {command} --help failed: {r.Error}");
        Assert.Equal("", r.Error);
        Assert.Contains("USAGE:", r.Output);
        Assert.Contains($"gpt {command} [OPTIONS]", r.Output);
        Assert.Contains("--threads", r.Output);
    }

    [Fact]
    public void DoubledBracketsRenderAsBrackets()
    {
        Assert.Contains("in [0, 1]", Cli.Run("passkey", "--help").Output);
        Assert.Contains("(previous, this]·L keys", Cli.Run("attention", "--help").Output);
    }

    [Fact]
    public void AppHelpListsEveryCommand()
    {
        var r = Cli.Run("--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var command in Commands()) Assert.Contains(command.Data, r.Output);
    }
}
