using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

// The row stages of the attention family, in the order docs/attention.md derives them: the QK normalisation, the
// first stage (f and its l1 normalisation), the re-weighting, and the backward's centring.
internal static partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static readonly T Eps2 = T.CreateChecked(AttentionFamily.NormEpsilon * AttentionFamily.NormEpsilon);

    // The QK normalisation's rows are a head's D values (tens): short enough that a TensorPrimitives call per step
    // cost more than its arithmetic, so each row is one or two passes of its own here.

    /// <summary>1 / √max(‖x‖², ε²).</summary>
    private static T InverseNorm(ReadOnlySpan<T> x) => T.One / T.Sqrt(T.Max(SquaresAndDot(x, x).SumSquares, Eps2));

    /// <summary>(Σ x², Σ x·g) in one pass.</summary>
    private static (T SumSquares, T Dot) SquaresAndDot(ReadOnlySpan<T> x, ReadOnlySpan<T> g)
    {
        int n = x.Length, j = 0;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T G = ref MemoryMarshal.GetReference(g);
        T ss = T.Zero, dot = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            Vector512<T> a = default, b = default;
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
            {
                var xv = Vector512.LoadUnsafe(ref X, (nuint)j);
                a = Fma(xv, xv, a);
                b = Fma(xv, Vector512.LoadUnsafe(ref G, (nuint)j), b);
            }
            (ss, dot) = (Vector512.Sum(a), Vector512.Sum(b));
        }
        if (j + Vector<T>.Count <= n)
        {
            Vector<T> a = default, b = default;
            for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            {
                var xv = Vector.LoadUnsafe(ref X, (nuint)j);
                a = Fma(xv, xv, a);
                b = Fma(xv, Vector.LoadUnsafe(ref G, (nuint)j), b);
            }
            (ss, dot) = (ss + Vector.Sum(a), dot + Vector.Sum(b));
        }
        for (; j < n; j++)
        {
            ss += x[j] * x[j];
            dot += x[j] * g[j];
        }
        return (ss, dot);
    }

    /// <summary>y ← a·g − c·x (y may be g).</summary>
    private static void ScaledDifference(T a, ReadOnlySpan<T> g, T c, ReadOnlySpan<T> x, Span<T> y)
    {
        int n = x.Length, j = 0;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T G = ref MemoryMarshal.GetReference(g);
        ref T Y = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<T> va = Vector512.Create(a), vc = Vector512.Create(-c);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                Fma(vc, Vector512.LoadUnsafe(ref X, (nuint)j), va * Vector512.LoadUnsafe(ref G, (nuint)j)).StoreUnsafe(ref Y, (nuint)j);
        }
        Vector<T> wa = new(a), wc = new(-c);
        for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            Fma(wc, Vector.LoadUnsafe(ref X, (nuint)j), wa * Vector.LoadUnsafe(ref G, (nuint)j)).StoreUnsafe(ref Y, (nuint)j);
        for (; j < n; j++) y[j] = a * g[j] - c * x[j];
    }

    /// <summary>y ← a·x (y may be x).</summary>
    private static void Scale(T a, ReadOnlySpan<T> x, Span<T> y)
    {
        int n = x.Length, j = 0;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T Y = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
            for (var va = Vector512.Create(a); j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                (va * Vector512.LoadUnsafe(ref X, (nuint)j)).StoreUnsafe(ref Y, (nuint)j);
        for (var wa = new Vector<T>(a); j + Vector<T>.Count <= n; j += Vector<T>.Count)
            (wa * Vector.LoadUnsafe(ref X, (nuint)j)).StoreUnsafe(ref Y, (nuint)j);
        for (; j < n; j++) y[j] = a * x[j];
    }

    /// <summary>
    /// In place on g = ∂L/∂(λx̂) for x̂ = x·inv, inv = 1/√max(‖x‖², ε²), λ = <paramref name="scale"/>: g ← λ·inv·(g − x̂(x̂·g))
    /// = λ·inv·g − λ·inv³·(x·g)·x when ‖x‖ ≥ ε, else g ← λ·inv·g (below ε the norm is the constant ε). Two passes.
    /// </summary>
    private static void NormalizeBackward(ReadOnlySpan<T> x, Span<T> g, T scale)
    {
        var (ss, xg) = SquaresAndDot(x, g);
        T inv = T.One / T.Sqrt(T.Max(ss, Eps2)), a = scale * inv;
        if (ss >= Eps2) ScaledDifference(a, g, a * inv * inv * xg, x, g);
        else Scale(a, g, g);
    }

    /// <summary>The element type's dtype, for the constants the backends share (<see cref="AttentionFamily"/>).</summary>
    private static DType ElementType => typeof(T) == typeof(float) ? DType.Float32 : DType.Float64;

    /// <summary>ln of the smallest normal number: exp below it would return a subnormal (slow on x86, and negligible).</summary>
    private static readonly T LogMinNormal = T.CreateChecked(AttentionFamily.LogMinNormal(ElementType));

    /// <summary>
    /// First stage, in place on the scores s of one row: s ← u = f(s)·e^−μ, the terms whose l1 normalisation
    /// a = u/Σ u gives the weights; returns max u and Σ u in <paramref name="sum"/> (the caller normalises, or folds
    /// 1/Σ u into what follows). For the backward, sig (when given) receives f′(s)·e^−μ. The row factor e^−μ cancels in
    /// a: exp uses μ = max s (the usual stable Softmax, with exponents below ln(min normal) clamped there: such terms
    /// are under 1e-38 of the row maximum); Softplus uses μ = 0 unless every score is negative, then μ = max s,
    /// writing f(s)·e^−μ = e^(s−μ)·ln(1+e^s)/e^s so rows of very negative scores do not underflow to 0/0.
    /// The maximum is taken from the terms as mapped, so it is one of them exactly.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageOne(Span<T> s, Span<T> sig, PositiveFunction f, out T sum)
    {
        if (f == PositiveFunction.Sigmoid) return StageOneSigmoid(s, sig, out sum);
        if (f == PositiveFunction.Exp)
            return MapRow(new ExpMap(RowMax(s)), s, s, default, T.NegativeInfinity, out sum);
        if (AnyNonNegative(s))
            // The float exp stops at e^−87.3 ≈ 10⁻³⁸, so a score below −87.3 weighs 10⁻³⁸ instead of less: nothing
            // against the row's maximum, which contributes at least ln 2. The padding maps to such a weight too.
            return MapRow(new SoftplusMap(!sig.IsEmpty), s, s, sig, T.NegativeInfinity, out sum);
        T max = TensorPrimitives.Max<T>(s), termMax = T.Zero;
        for (int j = 0; j < s.Length; j++)
        {
            T e = T.Exp(s[j]), shifted = T.Exp(s[j] - max), u = T.One + e;
            T ratio = u == T.One ? T.One : T.Log(u) / (u - T.One); // ln(1+e)/e, accurate for tiny e (Kahan)
            if (!sig.IsEmpty) sig[j] = shifted / u;                // σ(s)·e^−μ
            s[j] = shifted * ratio;
            termMax = T.Max(termMax, s[j]);
        }
        sum = AccurateSum(s);
        return termMax;
    }

    /// <summary>
    /// <see cref="StageOne"/> for f = σ: s ← σ(s) and sig ← σ′(s), σ′ = σ(1 − σ). With t = e^−|s| ∈ (0, 1],
    /// σ(s) = (s ≥ 0 ? 1 : t)/(1 + t) and σ′(s) = t/(1 + t)², which never overflow. When every score is negative the
    /// row factor e^−μ, μ = max s, keeps the terms from underflowing to 0/0: σ(s)·e^−μ = e^(s−μ)/(1 + e^s) and
    /// σ′(s)·e^−μ = e^(s−μ)/(1 + e^s)².
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageOneSigmoid(Span<T> s, Span<T> sig, out T sum)
    {
        if (AnyNonNegative(s)) return MapRow(new SigmoidMap(!sig.IsEmpty), s, s, sig, T.NegativeInfinity, out sum);
        T max = TensorPrimitives.Max<T>(s), termMax = T.Zero;
        for (int j = 0; j < s.Length; j++)
        {
            T u = T.One + T.Exp(s[j]), shifted = T.Exp(s[j] - max);
            s[j] = shifted / u;
            termMax = T.Max(termMax, s[j]);
            if (!sig.IsEmpty) sig[j] = shifted / (u * u);
        }
        sum = AccurateSum(s);
        return termMax;
    }

    /// <summary>
    /// Whether some score is ≥ 0 (a NaN is not), stopping at the first: the Softplus and sigmoid stages only need the
    /// row's maximum when every score is negative, and in a row of cosine scores the first vector almost always
    /// holds a non-negative one, so this costs a compare where the maximum would cost a pass over the row.
    /// </summary>
    private static bool AnyNonNegative(ReadOnlySpan<T> s)
    {
        int n = s.Length, j = 0;
        ref T S = ref MemoryMarshal.GetReference(s);
        if (Vector512.IsHardwareAccelerated)
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                if (Vector512.GreaterThanOrEqualAny(Vector512.LoadUnsafe(ref S, (nuint)j), Vector512<T>.Zero)) return true;
        for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            if (Vector.GreaterThanOrEqualAny(Vector.LoadUnsafe(ref S, (nuint)j), Vector<T>.Zero)) return true;
        for (; j < n; j++)
            if (s[j] >= T.Zero) return true;
        return false;
    }

    /// <summary>
    /// max s over the row with the native max (TensorPrimitives.Max also orders ±0 and propagates NaN, at several
    /// instructions per vector: a tenth of the Softmax stage); −∞ for an empty row. A NaN score may be dropped here,
    /// but it still makes its row's sum, and so the row, NaN. The last partial vector is the row's last full-width
    /// window, which overlaps the one before it (a maximum may count an element twice).
    /// </summary>
    internal static T RowMax(ReadOnlySpan<T> s)
    {
        int n = s.Length;
        if (n == 0) return T.NegativeInfinity;
        ref T S = ref MemoryMarshal.GetReference(s);
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            int w = Vector512<T>.Count;
            Vector512<T> m0 = Vector512.LoadUnsafe(ref S), m1 = Vector512.LoadUnsafe(ref S, (nuint)(n - w));
            int j = w;
            for (; j + 2 * w <= n; j += 2 * w)
            {
                m0 = Vector512.MaxNative(m0, Vector512.LoadUnsafe(ref S, (nuint)j));
                m1 = Vector512.MaxNative(m1, Vector512.LoadUnsafe(ref S, (nuint)(j + w)));
            }
            if (j + w <= n) m0 = Vector512.MaxNative(m0, Vector512.LoadUnsafe(ref S, (nuint)j));
            return MaxOf(Vector512.MaxNative(m0, m1));
        }
        if (n >= Vector<T>.Count)
        {
            int w = Vector<T>.Count;
            var m = Vector.LoadUnsafe(ref S, (nuint)(n - w));
            for (int j = 0; j + w <= n; j += w) m = Vector.MaxNative(m, Vector.LoadUnsafe(ref S, (nuint)j));
            return MaxOf(m);
        }
        T r = s[0];
        for (int j = 1; j < n; j++) r = T.Max(r, s[j]);
        return r;
    }

    /// <summary>
    /// Re-weighting of one row of first-stage weights a = <paramref name="aScale"/>·u (n = its length, o = 0 or 1 its
    /// offset; u as <paramref name="u"/> holds it, <paramref name="aScale"/> = 1 when it is a itself): x = n·a − o,
    /// y = ReLU(x)/max x, w = y^p / Σ y^p. Dividing by max x keeps every power in [0, 1], so nothing overflows at any
    /// length, and w does not depend on that factor. Values of y whose p-th power would be subnormal are set to 0
    /// (they are below 1e-38 of the row's largest term). For the backward, <paramref name="dpow"/> (when given)
    /// receives y^(p−1) (0 where y = 0) and the result is κ = n·p/(max x·Σ y^p), so that n·p·w_j/x_j = κ·y_j^(p−1).
    /// With <paramref name="normalize"/> w is written as such and <paramref name="wScale"/> is 1; without, w holds
    /// y^p and <paramref name="wScale"/> = 1/Σ y^p (the forward folds it into the output row).
    /// <paramref name="aMax"/> is max a; <paramref name="cut"/> is <see cref="Cutoff"/>(p). A degenerate row (max x ≤ 0: every r_j is zero) keeps w = a and returns 0.
    /// <paramref name="w"/> may alias u.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageTwo(ReadOnlySpan<T> u, T aScale, T aMax, int n, double offset, Span<T> dpow, Span<T> w, double p, T cut, bool normalize, out T wScale)
    {
        T nT = T.CreateChecked(n), o = T.CreateChecked(offset);
        T xMax = nT * aMax - o;                                                            // max x, as x is increasing in a
        if (!(xMax > T.CreateChecked(AttentionFamily.DegenerateTolerance(n, ElementType))))
        {
            u.CopyTo(w);
            wScale = aScale;
            if (normalize && aScale != T.One)
            {
                Scale(aScale, w, w);
                wScale = T.One;
            }
            return T.Zero;
        }
        T scale = nT * aScale / xMax, shift = o / xMax, sum;            // y = u·scale − shift
        if (p == Math.Floor(p) && p <= 1 << 20)
            MapRow(new IntegerPowerMap(scale, shift, cut, (int)p), u, w, dpow, T.Zero, out sum);   // the padding maps to 0
        else
            MapRow(new RealPowerMap(scale, shift, cut, p), u, w, dpow, T.Zero, out sum);
        // sum ≥ 1: the maximum contributes 1^p
        wScale = T.One / sum;
        if (normalize)
        {
            Scale(wScale, w, w);
            wScale = T.One;
        }
        return nT * T.CreateChecked(p) / (xMax * sum);
    }

    /// <summary>
    /// g ← κ·m ⊙ (g − c), one pass; returns ⟨<paramref name="dotWith"/>, g⟩ of the result, taken in the same pass, when
    /// <paramref name="dotWith"/> is given (else 0).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T CenterAndScale(Span<T> g, T c, ReadOnlySpan<T> m, T kappa, ReadOnlySpan<T> dotWith = default)
    {
        int n = g.Length, W = Vector<T>.Count, j = 0;
        bool wantDot = !dotWith.IsEmpty;
        ref T Gr = ref MemoryMarshal.GetReference(g);
        ref T Mr = ref MemoryMarshal.GetReference(m);
        ref T Ar = ref MemoryMarshal.GetReference(dotWith);
        T dot = T.Zero;
        if (Vector512.IsHardwareAccelerated)
        {
            var wc = Vector512.Create(c); var wk = Vector512.Create(kappa); var acc = Vector512<T>.Zero;
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
            {
                var r = (Vector512.LoadUnsafe(ref Gr, (nuint)j) - wc) * Vector512.LoadUnsafe(ref Mr, (nuint)j) * wk;
                r.StoreUnsafe(ref Gr, (nuint)j);
                if (wantDot) acc = Fma(r, Vector512.LoadUnsafe(ref Ar, (nuint)j), acc);
            }
            dot = Vector512.Sum(acc);
        }
        var vc = new Vector<T>(c); var vk = new Vector<T>(kappa); var vacc = Vector<T>.Zero;
        for (; j + W <= n; j += W)
        {
            var r = (Vector.LoadUnsafe(ref Gr, (nuint)j) - vc) * Vector.LoadUnsafe(ref Mr, (nuint)j) * vk;
            r.StoreUnsafe(ref Gr, (nuint)j);
            if (wantDot) vacc = Fma(r, Vector.LoadUnsafe(ref Ar, (nuint)j), vacc);
        }
        dot += Vector.Sum(vacc);
        for (; j < n; j++)
        {
            T r = (g[j] - c) * m[j] * kappa;
            g[j] = r;
            if (wantDot) dot += r * dotWith[j];
        }
        return dot;
    }

    /// <summary>The smallest y whose p-th power is still a normal number.</summary>
    private static T Cutoff(double p) => T.CreateChecked(AttentionFamily.PowerCutoff(p, ElementType));

}
