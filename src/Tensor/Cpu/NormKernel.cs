using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

/// <summary>
/// One row of the layer norm (or RMS norm), forward and backward, in plain vector loops: a model's rows are d_model
/// values (a hundred or so), short enough that one TensorPrimitives call per step (six a row forward, eight
/// backward) cost more than the arithmetic. The backward recomputes x̂ = (x − μ)·rstd and ĝ = dy ⊙ w in each of its
/// two passes instead of keeping a scratch row.
/// </summary>
internal static class NormKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// y = (x − μ)·rstd ⊙ w + b with μ = mean(x) (0 for RMS) and rstd = 1/√(mean((x − μ)²) + eps), returning μ and
    /// rstd; <paramref name="w"/> or <paramref name="b"/> empty means none. Three passes: Σx, Σ(x − μ)² (centred,
    /// as a two-pass variance is), then y.
    /// </summary>
    public static (T Mean, T Rstd) ForwardRow(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, T eps, bool rms)
    {
        T n = T.CreateChecked(x.Length);
        T mu = rms ? T.Zero : SumOfPowers(x, T.Zero, squares: false) / n;
        T rstd = T.One / T.Sqrt(SumOfPowers(x, mu, squares: true) / n + eps);
        int len = x.Length, j = 0;
        bool weighted = !w.IsEmpty, biased = !b.IsEmpty;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T W = ref MemoryMarshal.GetReference(w);
        ref T B = ref MemoryMarshal.GetReference(b);
        ref T Y = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<T> m = Vector512.Create(mu), r = Vector512.Create(rstd);
            for (; j + Vector512<T>.Count <= len; j += Vector512<T>.Count)
            {
                var v = (Vector512.LoadUnsafe(ref X, (nuint)j) - m) * r;
                if (weighted) v *= Vector512.LoadUnsafe(ref W, (nuint)j);
                if (biased) v += Vector512.LoadUnsafe(ref B, (nuint)j);
                v.StoreUnsafe(ref Y, (nuint)j);
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> m = new(mu), r = new(rstd);
            for (; j + Vector<T>.Count <= len; j += Vector<T>.Count)
            {
                var v = (Vector.LoadUnsafe(ref X, (nuint)j) - m) * r;
                if (weighted) v *= Vector.LoadUnsafe(ref W, (nuint)j);
                if (biased) v += Vector.LoadUnsafe(ref B, (nuint)j);
                v.StoreUnsafe(ref Y, (nuint)j);
            }
        }
        for (; j < len; j++)
        {
            T v = (x[j] - mu) * rstd;
            if (weighted) v *= w[j];
            if (biased) v += b[j];
            y[j] = v;
        }
        return (mu, rstd);
    }

    /// <summary>Σ (x − c)² with <paramref name="squares"/>, else Σ x (c unused).</summary>
    private static T SumOfPowers(ReadOnlySpan<T> x, T c, bool squares)
    {
        int n = x.Length, j = 0;
        ref T X = ref MemoryMarshal.GetReference(x);
        T sum = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            Vector512<T> a = default, vc = Vector512.Create(c);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
            {
                var v = Vector512.LoadUnsafe(ref X, (nuint)j);
                if (squares) { v -= vc; a = Fma(v, v, a); }
                else a += v;
            }
            sum = Vector512.Sum(a);
        }
        if (Vector.IsHardwareAccelerated && j + Vector<T>.Count <= n)
        {
            Vector<T> a = default, vc = new(c);
            for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            {
                var v = Vector.LoadUnsafe(ref X, (nuint)j);
                if (squares) { v -= vc; a = Fma(v, v, a); }
                else a += v;
            }
            sum += Vector.Sum(a);
        }
        for (; j < n; j++) sum += squares ? (x[j] - c) * (x[j] - c) : x[j];
        return sum;
    }

    /// <summary>
    /// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) (without the mean(ĝ) term for RMS, μ = 0), and, where the spans are
    /// not empty, dwSum += dy ⊙ x̂ and dbSum += dy (the row's share of the weight and bias gradients).
    /// <paramref name="w"/> empty means no weight (ĝ = dy).
    /// </summary>
    public static void BackwardRow(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, T mu, T rstd, bool rms,
        Span<T> dx, Span<T> dwSum, Span<T> dbSum)
    {
        var (sumG, sumGX) = Sums(x, dy, w, mu, rstd);
        T n = T.CreateChecked(x.Length);
        Finish(x, dy, w, mu, rstd, rms ? T.Zero : sumG / n, sumGX / n, dx, dwSum, dbSum);
    }

    /// <summary>(Σ ĝ, Σ ĝ·x̂) over the row.</summary>
    private static (T SumG, T SumGX) Sums(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, T mu, T rstd)
    {
        int n = x.Length, j = 0;
        bool weighted = !w.IsEmpty;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T G = ref MemoryMarshal.GetReference(dy);
        ref T W = ref MemoryMarshal.GetReference(w);
        T sg = T.Zero, sgx = T.Zero;
        if (Vector512.IsHardwareAccelerated && n >= Vector512<T>.Count)
        {
            Vector512<T> a = default, b = default, m = Vector512.Create(mu), r = Vector512.Create(rstd);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
            {
                var g = Vector512.LoadUnsafe(ref G, (nuint)j);
                if (weighted) g *= Vector512.LoadUnsafe(ref W, (nuint)j);
                a += g;
                b = Fma(g, (Vector512.LoadUnsafe(ref X, (nuint)j) - m) * r, b);
            }
            (sg, sgx) = (Vector512.Sum(a), Vector512.Sum(b));
        }
        if (Vector.IsHardwareAccelerated && j + Vector<T>.Count <= n)
        {
            Vector<T> a = default, b = default, m = new(mu), r = new(rstd);
            for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            {
                var g = Vector.LoadUnsafe(ref G, (nuint)j);
                if (weighted) g *= Vector.LoadUnsafe(ref W, (nuint)j);
                a += g;
                b = Fma(g, (Vector.LoadUnsafe(ref X, (nuint)j) - m) * r, b);
            }
            (sg, sgx) = (sg + Vector.Sum(a), sgx + Vector.Sum(b));
        }
        for (; j < n; j++)
        {
            T g = weighted ? dy[j] * w[j] : dy[j];
            sg += g;
            sgx += g * ((x[j] - mu) * rstd);
        }
        return (sg, sgx);
    }

    /// <summary>dx = (ĝ − meanG − x̂·meanGX)·rstd, and the gradient sums (see <see cref="BackwardRow"/>).</summary>
    private static void Finish(ReadOnlySpan<T> x, ReadOnlySpan<T> dy, ReadOnlySpan<T> w, T mu, T rstd, T meanG, T meanGX,
        Span<T> dx, Span<T> dwSum, Span<T> dbSum)
    {
        int n = x.Length, j = 0;
        bool weighted = !w.IsEmpty, sumW = !dwSum.IsEmpty, sumB = !dbSum.IsEmpty;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T G = ref MemoryMarshal.GetReference(dy);
        ref T W = ref MemoryMarshal.GetReference(w);
        ref T D = ref MemoryMarshal.GetReference(dx);
        ref T SW = ref MemoryMarshal.GetReference(dwSum);
        ref T SB = ref MemoryMarshal.GetReference(dbSum);
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<T> m = Vector512.Create(mu), r = Vector512.Create(rstd), mg = Vector512.Create(meanG), mgx = Vector512.Create(-meanGX);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
            {
                var dyv = Vector512.LoadUnsafe(ref G, (nuint)j);
                var xh = (Vector512.LoadUnsafe(ref X, (nuint)j) - m) * r;
                var g = weighted ? dyv * Vector512.LoadUnsafe(ref W, (nuint)j) : dyv;
                (Fma(xh, mgx, g - mg) * r).StoreUnsafe(ref D, (nuint)j);
                if (sumW) Fma(dyv, xh, Vector512.LoadUnsafe(ref SW, (nuint)j)).StoreUnsafe(ref SW, (nuint)j);
                if (sumB) (Vector512.LoadUnsafe(ref SB, (nuint)j) + dyv).StoreUnsafe(ref SB, (nuint)j);
            }
        }
        if (Vector.IsHardwareAccelerated)
        {
            Vector<T> m = new(mu), r = new(rstd), mg = new(meanG), mgx = new(-meanGX);
            for (; j + Vector<T>.Count <= n; j += Vector<T>.Count)
            {
                var dyv = Vector.LoadUnsafe(ref G, (nuint)j);
                var xh = (Vector.LoadUnsafe(ref X, (nuint)j) - m) * r;
                var g = weighted ? dyv * Vector.LoadUnsafe(ref W, (nuint)j) : dyv;
                (Fma(xh, mgx, g - mg) * r).StoreUnsafe(ref D, (nuint)j);
                if (sumW) Fma(dyv, xh, Vector.LoadUnsafe(ref SW, (nuint)j)).StoreUnsafe(ref SW, (nuint)j);
                if (sumB) (Vector.LoadUnsafe(ref SB, (nuint)j) + dyv).StoreUnsafe(ref SB, (nuint)j);
            }
        }
        for (; j < n; j++)
        {
            T xh = (x[j] - mu) * rstd, g = weighted ? dy[j] * w[j] : dy[j];
            dx[j] = T.FusedMultiplyAdd(xh, -meanGX, g - meanG) * rstd;
            if (sumW) dwSum[j] = T.FusedMultiplyAdd(dy[j], xh, dwSum[j]);
            if (sumB) dbSum[j] += dy[j];
        }
    }
}
