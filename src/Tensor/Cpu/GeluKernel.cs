using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

/// <summary>
/// GELU with the tanh approximation and its derivative, in one pass over the data with one exp per element.
/// <para>
/// With z = c·x·(1 + k·x²), c = √(2/π), k = 0.044715: ½x(1 + tanh z) = x·σ(2z), so with s = 1 / (1 + e^(−2z))
/// <list type="bullet">
/// <item>gelu(x) = x·s,</item>
/// <item>gelu'(x) = s + x·2s(1 − s)·c(1 + 3k·x²) (from tanh' = 1 − tanh² and 1 − (2s − 1)² = 4s(1 − s)).</item>
/// </list>
/// Past |x| = <see cref="Saturation"/> both are returned as their limits (x or 0, 1 or 0), so every finite input
/// gives a finite result and ±∞ their limits; NaN stays NaN. The composed form this replaces ran nine (forward) and
/// fifteen (derivative) passes through TensorPrimitives, one of them its tanh.
/// </para>
/// </summary>
internal static class GeluKernel
{
    private const double C = 0.7978845608028654, K = 0.044715;

    /// <summary>
    /// Past |x| = 10, e^(−2|z|) &lt; 2·10⁻³⁸: gelu is x or 0 and gelu' 1 or 0 to below float's smallest normal, and
    /// they are returned as such. The formula alone would not give them at the far ends: float's exp is clamped finite,
    /// so s would stop at about 4·10⁻³⁹ and x·s be far from 0 for x near −10³⁸, and x·slope overflows from |x| ≈ 10¹⁹.
    /// </summary>
    private const double Saturation = 10;

    /// <summary>y = gelu(x), or gelu'(x) with <paramref name="derivative"/>, elementwise; y may alias x.</summary>
    public static void Run<T>(ReadOnlySpan<T> x, Span<T> y, bool derivative) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (y.Length < x.Length) throw new ArgumentException($"gelu: output of {y.Length} elements for {x.Length} inputs", nameof(y));
        int i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (int w = Vector512<T>.Count; i + w <= x.Length; i += w)
                Vector512.StoreUnsafe(Map(Vector512.LoadUnsafe(ref xr, (nuint)i), derivative), ref yr, (nuint)i);
        }
        else
        {
            // Without SIMD hardware Vector<T> runs in software: slow, but the same arithmetic (the tests' scalar path).
            for (int w = Vector<T>.Count; i + w <= x.Length; i += w)
                Vector.StoreUnsafe(Map(Vector.LoadUnsafe(ref xr, (nuint)i), derivative), ref yr, (nuint)i);
        }
        if (i < x.Length) Tail(x[i..], y[i..], derivative);
    }

    /// <summary>
    /// y = g·gelu'(x) elementwise, GELU's backward in one pass (the derivative computed as <see cref="Run"/> computes
    /// it, then one product, so the result equals the two-pass g ⊙ gelu'(x) bit for bit); y may alias x or g.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> g, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (g.Length != x.Length || y.Length < x.Length)
            throw new ArgumentException($"gelu backward: {x.Length} inputs, {g.Length} gradients and an output of {y.Length} elements", nameof(y));
        int i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T gr = ref MemoryMarshal.GetReference(g);
        ref T yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (int w = Vector512<T>.Count; i + w <= x.Length; i += w)
                Vector512.StoreUnsafe(Vector512.LoadUnsafe(ref gr, (nuint)i) * Map(Vector512.LoadUnsafe(ref xr, (nuint)i), derivative: true), ref yr, (nuint)i);
        }
        else
        {
            for (int w = Vector<T>.Count; i + w <= x.Length; i += w)
                Vector.StoreUnsafe(Vector.LoadUnsafe(ref gr, (nuint)i) * Map(Vector.LoadUnsafe(ref xr, (nuint)i), derivative: true), ref yr, (nuint)i);
        }
        if (i < x.Length)
        {
            Tail(x[i..], y[i..], derivative: true);
            for (int j = i; j < x.Length; j++) y[j] = g[j] * y[j];
        }
    }

    /// <summary>The last partial vector, through a padded buffer so it gets the same arithmetic as every other lane.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Tail<T>(ReadOnlySpan<T> x, Span<T> y, bool derivative) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            Span<T> b = stackalloc T[Vector512<T>.Count];
            b.Clear();
            x.CopyTo(b);
            Map(Vector512.Create((ReadOnlySpan<T>)b), derivative).CopyTo(b);
            b[..x.Length].CopyTo(y);
            return;
        }
        Span<T> v = stackalloc T[Vector<T>.Count];
        v.Clear();
        x.CopyTo(v);
        Map(new Vector<T>(v), derivative).CopyTo(v);
        v[..x.Length].CopyTo(y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Map<T>(Vector<T> x, bool derivative) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = Vector<T>.One;
        var x2 = x * x;
        var inner = Fma(x2, new Vector<T>(T.CreateTruncating(K)), one);                 // 1 + k·x²
        var m2z = x * inner * new Vector<T>(T.CreateTruncating(-2 * C));                // −2z
        var s = one / (one + VExp(m2z));
        Vector<T> y;
        if (!derivative) y = x * s;
        else
        {
            var slope = Fma(x2, new Vector<T>(T.CreateTruncating(3 * K)), one) * new Vector<T>(T.CreateTruncating(2 * C));
            y = Fma(x * slope, s * (one - s), s);
        }
        var lim = new Vector<T>(T.CreateTruncating(Saturation));
        y = Vector.ConditionalSelect(Vector.GreaterThan(x, lim), derivative ? one : x, y);
        return Vector.ConditionalSelect(Vector.LessThan(x, -lim), Vector<T>.Zero, y);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Map<T>(Vector512<T> x, bool derivative) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var one = Vector512<T>.One;
        var x2 = x * x;
        var inner = Fma(x2, Vector512.Create(T.CreateTruncating(K)), one);
        var m2z = x * inner * Vector512.Create(T.CreateTruncating(-2 * C));
        var s = one / (one + VExp(m2z));
        Vector512<T> y;
        if (!derivative) y = x * s;
        else
        {
            var slope = Fma(x2, Vector512.Create(T.CreateTruncating(3 * K)), one) * Vector512.Create(T.CreateTruncating(2 * C));
            y = Fma(x * slope, s * (one - s), s);
        }
        var lim = Vector512.Create(T.CreateTruncating(Saturation));
        y = Vector512.ConditionalSelect(Vector512.GreaterThan(x, lim), derivative ? one : x, y);
        return Vector512.ConditionalSelect(Vector512.LessThan(x, -lim), Vector512<T>.Zero, y);
    }
}
