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

    public static TheoryData<string, string?> CommandsAndWidths()
    {
        var data = new TheoryData<string, string?>();
        foreach (string? columns in new[] { null, "40", "120" })
        {
            data.Add("", columns);
            foreach (var command in Commands()) data.Add(command.Data, columns);
        }
        return data;
    }

    private static string[] HelpLines(string command, string? columns)
    {
        var r = Cli.RunWithColumns(columns, command == "" ? ["--help"] : [command, "--help"]);
        Assert.True(r.ExitCode == 0, $"gpt {command} --help failed: {r.Error}");
        return r.Output.ReplaceLineEndings("\n").Split('\n');
    }

    [Theory]
    [MemberData(nameof(CommandsAndWidths))]
    public void NoLineEndsInWhiteSpace(string command, string? columns)
    {
        var padded = HelpLines(command, columns).Where(l => l.Length > 0 && char.IsWhiteSpace(l[^1])).ToList();
        Assert.True(padded.Count == 0, $"gpt {command} --help (COLUMNS={columns}) has lines ending in white space:\n{string.Join("\n", padded.Select(l => $"[{l}]"))}");
    }

    [Theory]
    [MemberData(nameof(CommandsAndWidths))]
    public void ExamplesAppearWholeOneToALine(string command, string? columns)
    {
        var lines = HelpLines(command, columns);
        int start = Array.IndexOf(lines, "EXAMPLES:");
        Assert.True(start >= 0, $"gpt {command} --help shows no examples");
        var examples = lines.Skip(start + 1).TakeWhile(l => l.Length > 0).ToList();
        Assert.NotEmpty(examples);
        // A wrapped example would leave a continuation line that does not start a command.
        Assert.All(examples, l => Assert.StartsWith("    gpt ", l));
        if (command is "" or "train")
            Assert.Contains("    gpt train --data synthetic --attention softmax --context 64 --steps 500 --out runs/softmax", examples);
    }

    [Fact]
    public void ColumnsWidensTheHelpAndOnlyDescriptionsWrap()
    {
        var narrow = HelpLines("", null);
        var wide = HelpLines("", "120");
        Assert.All(wide, l => Assert.True(l.Length <= 120, $"a line is wider than COLUMNS=120: [{l}]"));
        Assert.Contains(wide, l => l.Length > 100);
        // Without COLUMNS, off a terminal, descriptions wrap at 80 columns (examples never do).
        Assert.All(narrow.Where(l => !l.StartsWith("    gpt ", StringComparison.Ordinal)), l => Assert.True(l.Length <= 80, $"a description line is wider than 80: [{l}]"));
        // The passkey description is longer than 120 columns: wrapped, its words all still there.
        var passkey = wide.SkipWhile(l => !l.StartsWith("    passkey ", StringComparison.Ordinal)).TakeWhile(l => !l.StartsWith("    attention ", StringComparison.Ordinal)).ToList();
        Assert.True(passkey.Count >= 2, string.Join("\n", wide));
        Assert.Contains("writes passkey.csv, passkey.md and plots", string.Join(' ', passkey.Select(l => l.Trim())));
    }

    [Theory]
    [InlineData("120", 120)]
    [InlineData(" 90 ", 90)]
    [InlineData("0", null)]
    [InlineData("-5", null)]
    [InlineData("wide", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void ColumnsCountsOnlyAsAPositiveInteger(string? columns, int? width) => Assert.Equal(width, ConsoleWidth.Parse(columns));
}
