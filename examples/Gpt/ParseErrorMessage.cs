using System.Reflection;
using System.Text.RegularExpressions;
using Spectre.Console.Cli;

namespace Engine.Examples.Gpt;

/// <summary>
/// Rewrites Spectre's parse errors: "Unknown option 'step'." names the option as typed, the command, and the nearest
/// valid option by edit distance (Spectre's own message has no suggestion); "Unknown command 'x'." after a command is
/// a stray argument, not a command.
/// </summary>
internal static partial class ParseErrorMessage
{
    [GeneratedRegex(@"^Unknown option '(?<name>[^']+)'\.$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    [GeneratedRegex(@"^Unknown command '(?<name>[^']+)'\.$", RegexOptions.CultureInvariant)]
    private static partial Regex StrayPattern();

    /// <summary>The better message for <paramref name="e"/>, or null when it is not about an unknown option.</summary>
    public static string? Describe(CommandParseException e, string[] args, IReadOnlyDictionary<string, Type> settingsByCommand)
    {
        var stray = StrayPattern().Match(e.Message);
        if (stray.Success && args.FirstOrDefault(settingsByCommand.ContainsKey) is { } owner)
            return $"unexpected argument '{stray.Groups["name"].Value}' for 'gpt {owner}': it takes only options (see 'gpt {owner} --help'; quote a value that has spaces)";
        var m = Pattern().Match(e.Message);
        if (!m.Success) return null;
        string name = m.Groups["name"].Value;
        string typed = args.FirstOrDefault(a => a == "--" + name || a.StartsWith("--" + name + "=", StringComparison.Ordinal)) is not null ? "--" + name
            : name.Length == 1 ? "-" + name : "--" + name;
        string? command = args.FirstOrDefault(settingsByCommand.ContainsKey);
        if (command is null) return $"unknown option '{typed}'";
        string? nearest = Nearest(typed, OptionsOf(settingsByCommand[command]));
        return nearest is null
            ? $"unknown option '{typed}' for 'gpt {command}'; see 'gpt {command} --help'"
            : $"unknown option '{typed}' for 'gpt {command}'; did you mean '{nearest}'?";
    }

    /// <summary>Every long option (with its dashes) that a settings type declares, inherited ones included.</summary>
    internal static IEnumerable<string> OptionsOf(Type settings) =>
        settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Select(p => p.GetCustomAttribute<CommandOptionAttribute>())
            .Where(a => a is not null)
            .SelectMany(a => a!.LongNames.Select(n => "--" + n));

    /// <summary>The closest candidate, if it is close enough to be a plausible typo (at most 2 edits, or a third of the length).</summary>
    internal static string? Nearest(string typed, IEnumerable<string> candidates)
    {
        var best = candidates.Select(c => (Option: c, Distance: Distance(typed, c))).OrderBy(x => x.Distance).ThenBy(x => x.Option, StringComparer.Ordinal).FirstOrDefault();
        return best.Option is not null && best.Distance <= Math.Max(2, (typed.Length - 2) / 3) ? best.Option : null;
    }

    /// <summary>Levenshtein distance.</summary>
    internal static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) previous[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
