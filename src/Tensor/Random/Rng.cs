namespace Engine;

/// <summary>
/// A small, fast, seedable generator (xoshiro256** seeded through SplitMix64). The same seed gives the same
/// stream on every machine and runtime: nothing depends on <see cref="System.Random"/>'s implementation.
/// </summary>
public sealed class Rng
{
    private ulong s0, s1, s2, s3;

    /// <summary>A generator for a seed.</summary>
    public Rng(ulong seed)
    {
        ulong x = seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    /// <summary>
    /// The four words of state, for checkpoints. Setting it replays the stream of <see cref="NextUInt64"/>,
    /// <see cref="NextDouble"/> and <see cref="NextInt"/> from that point, and discards a normal held back by
    /// <see cref="NextNormal"/>; normals replay exactly when the state is taken after an even number of them.
    /// </summary>
    public ulong[] State
    {
        get => [s0, s1, s2, s3];
        set
        {
            if (value is not { Length: 4 }) throw new ArgumentException($"rng: state must have 4 words, got {value?.Length ?? 0}");
            if ((value[0] | value[1] | value[2] | value[3]) == 0) throw new ArgumentException("rng: state must not be all zero");
            (s0, s1, s2, s3) = (value[0], value[1], value[2], value[3]);
            hasSpare = false;
        }
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(s1 * 5, 7) * 9;
        ulong t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
        s3 = ulong.RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), n, "rng: upper bound must be positive");
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    /// <summary>
    /// Standard normal by the Box–Muller transform. Each pair of uniforms gives two normals, returned by two
    /// successive calls; the second is held until then (see <see cref="State"/>).
    /// </summary>
    public double NextNormal()
    {
        if (hasSpare) { hasSpare = false; return spare; }
        double u1 = 1.0 - NextDouble(), u2 = NextDouble(); // u1 in (0, 1]: the log is finite
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        spare = r * Math.Sin(2 * Math.PI * u2);
        hasSpare = true;
        return r * Math.Cos(2 * Math.PI * u2);
    }

    private bool hasSpare;
    private double spare;
}
