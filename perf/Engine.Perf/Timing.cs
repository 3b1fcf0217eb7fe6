using System.Diagnostics;

namespace Engine.Perf;

/// <summary>
/// Wall-clock timing used by the table: the same method as the peer harness (two warm-up calls, a repeat count
/// calibrated so one sample lasts at least <c>minSample</c> seconds, the median of the samples), so both sides
/// are measured alike.
/// </summary>
internal static class Timing
{
    public static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        int n = s.Count;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    /// <summary>Median seconds per call of <paramref name="body"/>.</summary>
    public static double TimeIt(Action body, int samples = 7, double minSample = 0.1, int warm = 2)
    {
        for (int i = 0; i < warm; i++) body();
        long t0 = Stopwatch.GetTimestamp();
        body();
        double one = Math.Max(Stopwatch.GetElapsedTime(t0).TotalSeconds, 1e-7);
        int reps = Math.Max(1, (int)Math.Ceiling(minSample / one));
        var res = new List<double>(samples);
        for (int s = 0; s < samples; s++)
        {
            t0 = Stopwatch.GetTimestamp();
            for (int r = 0; r < reps; r++) body();
            res.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds / reps);
        }
        return Median(res);
    }
}
