using System.Globalization;

namespace Engine.Nn.Diagnostics;

/// <summary>Parses a comma-separated list of run seeds ("1,2,3"), as given to <c>--seeds</c>.</summary>
public static class SeedList
{
    /// <summary>
    /// The seeds in the order given. Each must be a positive integer (decimal digits, at most 2^64 − 1), and none may
    /// repeat.
    /// </summary>
    /// <param name="list">The list, e.g. "1,2,3"; spaces around the commas are allowed.</param>
    /// <param name="option">The option name used in error messages.</param>
    /// <exception cref="ArgumentException">An entry is not a positive integer, repeats, or the list is empty.</exception>
    public static ulong[] Parse(string list, string option = "--seeds")
    {
        ArgumentNullException.ThrowIfNull(list);
        var seeds = new List<ulong>();
        foreach (var part in list.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out ulong seed) || seed == 0)
                throw new ArgumentException($"{option}: '{part}' is not a positive integer seed");
            if (seeds.Contains(seed)) throw new ArgumentException($"{option}: seed {seed} is listed twice");
            seeds.Add(seed);
        }
        if (seeds.Count == 0) throw new ArgumentException($"{option}: no seed given");
        return seeds.ToArray();
    }
}
