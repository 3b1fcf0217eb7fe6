using System.Globalization;

namespace Engine.Nn.Diagnostics;

/// <summary>
/// The mean and sample standard deviation (n − 1 in the denominator) of a value measured once per seed; with one
/// seed the deviation is NaN (undefined), and <see cref="Format"/> shows the mean alone.
/// </summary>
/// <param name="Mean">The mean.</param>
/// <param name="StandardDeviation">The sample standard deviation; NaN with fewer than two values.</param>
/// <param name="Count">How many values.</param>
public readonly record struct MeanSpread(double Mean, double StandardDeviation, int Count)
{
    /// <summary>The mean and sample standard deviation of <paramref name="values"/>.</summary>
    /// <exception cref="ArgumentException">There are no values.</exception>
    public static MeanSpread Of(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException("mean/sd: no values", nameof(values));
        double mean = values.Sum() / values.Count;
        if (values.Count == 1) return new MeanSpread(mean, double.NaN, 1);
        double squares = values.Sum(v => (v - mean) * (v - mean));
        return new MeanSpread(mean, Math.Sqrt(squares / (values.Count - 1)), values.Count);
    }

    /// <summary>
    /// The per-seed ratios <paramref name="numerators"/>[s] / <paramref name="denominators"/>[s], then their mean and
    /// spread (the spread of the ratio, not a ratio of means).
    /// </summary>
    /// <exception cref="ArgumentException">The lists are empty or of different lengths.</exception>
    public static MeanSpread OfRatios(IReadOnlyList<double> numerators, IReadOnlyList<double> denominators)
    {
        ArgumentNullException.ThrowIfNull(numerators);
        ArgumentNullException.ThrowIfNull(denominators);
        if (numerators.Count != denominators.Count)
            throw new ArgumentException($"mean/sd of ratios: {numerators.Count} numerators but {denominators.Count} denominators");
        return Of(numerators.Select((n, i) => n / denominators[i]).ToArray());
    }

    /// <summary>"mean ± sd" with <paramref name="format"/> for both (e.g. "F4"), or just the mean for one value.</summary>
    public string Format(string format) => Count < 2
        ? Mean.ToString(format, CultureInfo.InvariantCulture)
        : Mean.ToString(format, CultureInfo.InvariantCulture) + " ± " + StandardDeviation.ToString(format, CultureInfo.InvariantCulture);
}
