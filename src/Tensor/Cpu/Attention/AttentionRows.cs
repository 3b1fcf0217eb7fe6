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

    /// <summary>1 / √max(‖x‖², ε²).</summary>
    private static T InverseNorm(ReadOnlySpan<T> x) => T.One / T.Sqrt(T.Max(TensorPrimitives.SumOfSquares(x), Eps2));

    /// <summary>
    /// In place on g = ∂L/∂x̂ for x̂ = x·inv, inv = 1/√max(‖x‖², ε²): g ← inv·(g − x̂ (x̂·g)) when ‖x‖ ≥ ε, else g ← inv·g
    /// (below ε the norm is the constant ε).
    /// </summary>
    private static void NormalizeBackward(ReadOnlySpan<T> x, Span<T> g, T[] scratch)
    {
        T ss = TensorPrimitives.SumOfSquares(x);
        T inv = T.One / T.Sqrt(T.Max(ss, Eps2));
        if (ss >= Eps2)
        {
            var xh = scratch.AsSpan(0, x.Length);
            TensorPrimitives.Multiply(x, inv, xh);
            T dot = TensorPrimitives.Dot<T>(xh, g);
            TensorPrimitives.MultiplyAdd(xh, -dot, g, g);
        }
        TensorPrimitives.Multiply(g, inv, g);
    }

    /// <summary>The element type's dtype, for the constants the backends share (<see cref="AttentionFamily"/>).</summary>
    private static DType ElementType => typeof(T) == typeof(float) ? DType.Float32 : DType.Float64;

    /// <summary>ln of the smallest normal number: exp below it would return a subnormal (slow on x86, and negligible).</summary>
    private static readonly T LogMinNormal = T.CreateChecked(AttentionFamily.LogMinNormal(ElementType));

    /// <summary>
    /// First stage, in place on the scores s of one row: s ← a = f(s)/Σ f(s). For the backward, sig (when given)
    /// receives f′(s)/Σ f(s). Both are computed with a row factor e^−μ that the l1 normalisation cancels:
    /// exp uses μ = max s (the usual stable Softmax, with exponents below ln(min normal) clamped there: such terms
    /// are under 1e-38 of the row maximum); Softplus uses μ = 0 unless every score is negative, then μ = max s,
    /// writing f(s)·e^−μ = e^(s−μ)·ln(1+e^s)/e^s so rows of very negative scores do not underflow to 0/0.
    /// Returns max a (the re-weighting needs it; taken from the terms before normalising, which is exact, as
    /// multiplying by a positive number keeps the order).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageOne(Span<T> s, Span<T> sig, PositiveFunction f)
    {
        if (f == PositiveFunction.Sigmoid) return StageOneSigmoid(s, sig);
        int n = s.Length, W = Vector<T>.Count, j = 0;
        T max = TensorPrimitives.Max<T>(s), termMax = SExp(T.Zero);       // exp: the largest term is e^(max − max)
        ref T S = ref MemoryMarshal.GetReference(s);
        if (f == PositiveFunction.Exp)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var wmax = Vector512.Create(max); var wlo = Vector512.Create(LogMinNormal);
                for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                {
                    var e = VExp(Vector512.Max(Vector512.LoadUnsafe(ref S, (nuint)j) - wmax, wlo));
                    e.StoreUnsafe(ref S, (nuint)j);
                }
            }
            var vmax = new Vector<T>(max); var vlo = new Vector<T>(LogMinNormal);
            for (; j + W <= n; j += W)
            {
                var e = VExp(Vector.Max(Vector.LoadUnsafe(ref S, (nuint)j) - vmax, vlo));
                e.StoreUnsafe(ref S, (nuint)j);
            }
            for (; j < n; j++) s[j] = SExp(T.Max(s[j] - max, LogMinNormal));
        }
        else if (max >= T.Zero)
        {
            // softplus(s) = max(s, 0) + ln(1 + t), σ(s) = (s ≥ 0 ? 1 : t)/(1 + t), t = e^−|s| ∈ (0, 1], with ln(1 + t)
            // taken without forming 1 + t (accurate for tiny t). The float exp stops at e^−87.3 ≈ 10⁻³⁸, so a score
            // below −87.3 weighs 10⁻³⁸ instead of less: nothing against the row's maximum, which contributes at least ln 2.
            bool wantSig = !sig.IsEmpty;
            ref T G = ref MemoryMarshal.GetReference(sig);
            termMax = T.Zero;
            if (Vector512.IsHardwareAccelerated)
            {
                var wmax = Vector512<T>.Zero;
                for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                {
                    var x = Vector512.LoadUnsafe(ref S, (nuint)j);
                    var t = VExp(-Vector512.Abs(x));
                    var u = Vector512.Max(x, Vector512<T>.Zero) + VLog1pUnit(t);
                    u.StoreUnsafe(ref S, (nuint)j);
                    wmax = Vector512.Max(wmax, u);
                    if (wantSig) (Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.One, t) / (Vector512<T>.One + t)).StoreUnsafe(ref G, (nuint)j);
                }
                termMax = MaxOf(wmax);
            }
            var vmax = Vector<T>.Zero;
            for (; j + W <= n; j += W)
            {
                var x = Vector.LoadUnsafe(ref S, (nuint)j);
                var t = VExp(-Vector.Abs(x));
                var u = Vector.Max(x, Vector<T>.Zero) + VLog1pUnit(t);
                u.StoreUnsafe(ref S, (nuint)j);
                vmax = Vector.Max(vmax, u);
                if (wantSig) (Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), Vector<T>.One, t) / (Vector<T>.One + t)).StoreUnsafe(ref G, (nuint)j);
            }
            for (int l = 0; l < W; l++) termMax = T.Max(termMax, vmax[l]);
            for (; j < n; j++)
            {
                T x = s[j], t = SExp(-T.Abs(x));
                T u = T.Max(x, T.Zero) + SLog1pUnit(t);
                s[j] = u;
                termMax = T.Max(termMax, u);
                if (wantSig) sig[j] = (x >= T.Zero ? T.One : t) / (T.One + t);
            }
        }
        else
        {
            termMax = T.Zero;
            for (; j < n; j++)
            {
                T e = T.Exp(s[j]), shifted = T.Exp(s[j] - max), u = T.One + e;
                T ratio = u == T.One ? T.One : T.Log(u) / (u - T.One); // ln(1+e)/e, accurate for tiny e (Kahan)
                if (!sig.IsEmpty) sig[j] = shifted / u;                // σ(s)·e^−μ
                s[j] = shifted * ratio;
                termMax = T.Max(termMax, s[j]);
            }
        }
        return Normalize(s, sig, termMax);
    }

    /// <summary>
    /// s ← s/Σ s and sig ← sig/Σ s (when given), as products with 1/Σ s (a 512-bit division per vector would cost as
    /// much as the exponential); returns <paramref name="termMax"/>/Σ s, the largest normalised term.
    /// </summary>
    private static T Normalize(Span<T> s, Span<T> sig, T termMax)
    {
        T inv = T.One / AccurateSum(s);
        TensorPrimitives.Multiply(s, inv, s);
        if (!sig.IsEmpty) TensorPrimitives.Multiply(sig, inv, sig);
        return termMax * inv;
    }

    /// <summary>The largest lane.</summary>
    private static T MaxOf(Vector512<T> v)
    {
        T m = v[0];
        for (int l = 1; l < Vector512<T>.Count; l++) m = T.Max(m, v[l]);
        return m;
    }

    /// <summary>
    /// <see cref="StageOne"/> for f = σ: s ← σ(s)/Σ σ(s) and sig ← σ′(s)/Σ σ(s), σ′ = σ(1 − σ). With t = e^−|s| ∈ (0, 1],
    /// σ(s) = (s ≥ 0 ? 1 : t)/(1 + t) and σ′(s) = t/(1 + t)², which never overflow. When every score is negative the
    /// row factor e^−μ, μ = max s, keeps the terms from underflowing to 0/0: σ(s)·e^−μ = e^(s−μ)/(1 + e^s) and
    /// σ′(s)·e^−μ = e^(s−μ)/(1 + e^s)².
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageOneSigmoid(Span<T> s, Span<T> sig)
    {
        int n = s.Length, W = Vector<T>.Count, j = 0;
        bool wantSig = !sig.IsEmpty;
        T max = TensorPrimitives.Max<T>(s), termMax = T.Zero;
        if (max >= T.Zero)
        {
            ref T S = ref MemoryMarshal.GetReference(s);
            ref T G = ref MemoryMarshal.GetReference(sig);
            var vmax = Vector<T>.Zero;
            for (; j + W <= n; j += W)
            {
                var x = Vector.LoadUnsafe(ref S, (nuint)j);
                var t = VExp(-Vector.Abs(x));
                var onePlusT = Vector<T>.One + t;
                var u = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), Vector<T>.One, t) / onePlusT;
                u.StoreUnsafe(ref S, (nuint)j);
                vmax = Vector.Max(vmax, u);
                if (wantSig) (t / (onePlusT * onePlusT)).StoreUnsafe(ref G, (nuint)j);
            }
            for (int l = 0; l < W; l++) termMax = T.Max(termMax, vmax[l]);
            for (; j < n; j++)
            {
                T x = s[j], t = SExp(-T.Abs(x)), onePlusT = T.One + t;
                s[j] = (x >= T.Zero ? T.One : t) / onePlusT;
                termMax = T.Max(termMax, s[j]);
                if (wantSig) sig[j] = t / (onePlusT * onePlusT);
            }
        }
        else
        {
            for (; j < n; j++)
            {
                T u = T.One + T.Exp(s[j]), shifted = T.Exp(s[j] - max);
                s[j] = shifted / u;
                termMax = T.Max(termMax, s[j]);
                if (wantSig) sig[j] = shifted / (u * u);
            }
        }
        return Normalize(s, sig, termMax);
    }

    /// <summary>
    /// Re-weighting of one row of first-stage weights a (n = its length, o = 0 or 1 its offset): x = n·a − o, y = ReLU(x)/max x,
    /// w = y^p / Σ y^p. Dividing by max x keeps every power in [0, 1], so nothing overflows at any length, and w does
    /// not depend on that factor. Values of y whose p-th power would be subnormal are set to 0 (they are below 1e-38
    /// of the row's largest term). For the backward, <paramref name="dpow"/> (when given) receives y^(p−1) (0 where
    /// y = 0) and the result is κ = n·p/(max x·Σ y^p), so that n·p·w_j/x_j = κ·y_j^(p−1).
    /// <paramref name="aMax"/> is max a (<see cref="StageOne"/> returns it). A degenerate row (max x ≤ 0: every r_j is zero) keeps w = a and returns 0. <paramref name="w"/> may alias a.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageTwo(ReadOnlySpan<T> a, T aMax, int n, double offset, Span<T> dpow, Span<T> w, double p)
    {
        T nT = T.CreateChecked(n), o = T.CreateChecked(offset);
        T xMax = nT * aMax - o;                                                            // max x, as x is increasing in a
        if (!(xMax > T.CreateChecked(AttentionFamily.DegenerateTolerance(n, ElementType))))
        {
            a.CopyTo(w);
            return T.Zero;
        }
        int len = a.Length, W = Vector<T>.Count, j2 = 0;
        bool integer = p == Math.Floor(p) && p <= 1 << 20;
        int e = integer ? (int)p : 0;
        T pT = T.CreateChecked(p), cut = Cutoff(p), scale = nT / xMax, shift = o / xMax;
        bool wantD = !dpow.IsEmpty;
        ref T Ar = ref MemoryMarshal.GetReference(a);
        ref T Wr = ref MemoryMarshal.GetReference(w);
        ref T Dr = ref MemoryMarshal.GetReference(dpow);
        if (Vector512.IsHardwareAccelerated)
        {
            var wscale = Vector512.Create(scale); var wshift = Vector512.Create(shift); var wcut = Vector512.Create(cut);
            for (; j2 + Vector512<T>.Count <= len; j2 += Vector512<T>.Count)
            {
                var y = Vector512.LoadUnsafe(ref Ar, (nuint)j2) * wscale - wshift;
                var keep = Vector512.GreaterThanOrEqual(y, wcut);
                y = Vector512.ConditionalSelect(keep, y, Vector512<T>.Zero);
                var d = integer ? PowInt(y, e - 1) : VExp(VLog(y) * Vector512.Create(pT - T.One));
                d = Vector512.ConditionalSelect(keep, d, Vector512<T>.Zero);
                var r = d * y;
                r.StoreUnsafe(ref Wr, (nuint)j2);
                if (wantD) d.StoreUnsafe(ref Dr, (nuint)j2);
            }
        }
        var vscale = new Vector<T>(scale); var vshift = new Vector<T>(shift); var vcut = new Vector<T>(cut);
        for (; j2 + W <= len; j2 += W)
        {
            var y = Vector.LoadUnsafe(ref Ar, (nuint)j2) * vscale - vshift;     // x / max x
            var keep = Vector.GreaterThanOrEqual(y, vcut);
            y = Vector.ConditionalSelect(keep, y, Vector<T>.Zero);
            var d = integer ? PowInt(y, e - 1) : VExp(VLog(y) * new Vector<T>(pT - T.One));
            d = Vector.ConditionalSelect(keep, d, Vector<T>.Zero);
            var r = d * y;
            r.StoreUnsafe(ref Wr, (nuint)j2);
            if (wantD) d.StoreUnsafe(ref Dr, (nuint)j2);
        }
        for (; j2 < len; j2++)
        {
            T y = a[j2] * scale - shift;
            T d = T.Zero;
            if (y >= cut) d = integer ? PowInt(y, e - 1) : T.Exp(T.Log(y) * (pT - T.One));
            else y = T.Zero;
            T r = d * y;
            w[j2] = r;
            if (wantD) dpow[j2] = d;
        }
        T sum = AccurateSum(w);                                                                  // ≥ 1: the maximum contributes 1^p
        TensorPrimitives.Multiply(w, T.One / sum, w);
        return nT * pT / (xMax * sum);
    }

    /// <summary>g ← κ·m ⊙ (g − c), one pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CenterAndScale(Span<T> g, T c, ReadOnlySpan<T> m, T kappa)
    {
        int n = g.Length, W = Vector<T>.Count, j = 0;
        ref T Gr = ref MemoryMarshal.GetReference(g);
        ref T Mr = ref MemoryMarshal.GetReference(m);
        if (Vector512.IsHardwareAccelerated)
        {
            var wc = Vector512.Create(c); var wk = Vector512.Create(kappa);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                ((Vector512.LoadUnsafe(ref Gr, (nuint)j) - wc) * Vector512.LoadUnsafe(ref Mr, (nuint)j) * wk).StoreUnsafe(ref Gr, (nuint)j);
        }
        var vc = new Vector<T>(c); var vk = new Vector<T>(kappa);
        for (; j + W <= n; j += W)
            ((Vector.LoadUnsafe(ref Gr, (nuint)j) - vc) * Vector.LoadUnsafe(ref Mr, (nuint)j) * vk).StoreUnsafe(ref Gr, (nuint)j);
        for (; j < n; j++) g[j] = (g[j] - c) * m[j] * kappa;
    }

    /// <summary>The smallest y whose p-th power is still a normal number.</summary>
    private static T Cutoff(double p) => T.CreateChecked(AttentionFamily.PowerCutoff(p, ElementType));

}
