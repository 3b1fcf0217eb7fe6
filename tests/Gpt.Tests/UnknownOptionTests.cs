namespace Engine.Examples.Gpt.Tests;

/// <summary>A mistyped option or a stray argument is an error that names it, never silently ignored.</summary>
public class UnknownOptionTests
{
    [Theory]
    [InlineData("train --step 3", "gpt: unknown option '--step' for 'gpt train'; did you mean '--steps'?")]
    [InlineData("sample --token 5", "gpt: unknown option '--token' for 'gpt sample'; did you mean '--tokens'?")]
    [InlineData("eval --lenghts 8", "gpt: unknown option '--lenghts' for 'gpt eval'; did you mean '--lengths'?")]
    [InlineData("train --bogus 1", "gpt: unknown option '--bogus' for 'gpt train'; see 'gpt train --help'")]
    public void UnknownOptionsAreNamedWithTheNearestValidOne(string line, string expected)
    {
        var r = Cli.Run(line.Split(' '));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(expected, r.Error);
    }

    [Fact]
    public void EveryCommandHasASettingsTypeForSuggestions()
    {
        foreach (var command in HelpTests.Commands()) Assert.Contains("--threads", ParseErrorMessage.OptionsOf(GptApp.SettingsByCommand[command.Data]));
        Assert.Equal(2, ParseErrorMessage.Distance("--lenghts", "--lengths"));
    }

    [Fact]
    public void AStrayArgumentIsAnError()
    {
        var r = Cli.Run("sample", "--checkpoint", "nowhere", "extra");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: unexpected argument 'extra' for 'gpt sample': it takes only options (see 'gpt sample --help'; quote a value that has spaces)", r.Error);
    }
}
