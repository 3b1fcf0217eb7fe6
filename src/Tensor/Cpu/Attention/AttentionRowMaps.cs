using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

// The elementwise maps of the row stages (AttentionRows.cs), each written once per vector width, and the loop that
// runs one over a row. A row's last partial vector is mapped at full width too (masked, or padded in a small buffer):
// a row of the usual lengths (tens to hundreds of keys) would otherwise spend as long in a scalar tail of exp and log
// as in its vectors, and every element goes through the same vector code whatever the row's length.
internal static unsafe partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>An elementwise map x ↦ (y, z) of a row stage: y replaces x; z (the backward's second output) is optional.</summary>
    private interface IRowMap
    {
        Vector512<T> Map(Vector512<T> x, out Vector512<T> z);
        Vector<T> Map(Vector<T> x, out Vector<T> z);
    }

    /// <summary>
    /// y ← the first and z ← the second output (when <paramref name="z"/> is not empty) of <paramref name="map"/>
    /// over the row x, at the widest vector width the hardware has; returns max y, and Σ y in <paramref name="sum"/>
    /// (taken in the same pass, so the l1 normalisations need no pass of their own; over blocks of
    /// <see cref="SumBlock"/> elements added in double, as <see cref="AccurateSum{T}"/> does). y may be x itself (each
    /// vector is read before it is written). The last partial vector goes through masked loads and stores (AVX-512,
    /// or AVX where <see cref="Vector{T}"/> is 256 bits wide), its lanes past the row's end loaded as
    /// <paramref name="pad"/> and left out of the maximum and the sum; other widths map it from a padded buffer
    /// (<see cref="MapTail"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T MapRow<TMap>(TMap map, ReadOnlySpan<T> x, Span<T> y, Span<T> z, T pad, out T sum) where TMap : struct, IRowMap
    {
        int n = x.Length, j = 0;
        bool wantZ = !z.IsEmpty;
        ref T X = ref MemoryMarshal.GetReference(x);
        ref T Y = ref MemoryMarshal.GetReference(y);
        ref T Z = ref MemoryMarshal.GetReference(z);
        double total = 0;
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)   // 512-bit vectors are AVX-512's
        {
            int w = Vector512<T>.Count;
            var vmax = Vector512.Create(T.NegativeInfinity);
            while (j + w <= n)
            {
                var vsum = Vector512<T>.Zero;
                for (int end = Math.Min(n, j + SumBlock); j + w <= end; j += w)
                {
                    var yj = map.Map(Vector512.LoadUnsafe(ref X, (nuint)j), out var zj);
                    yj.StoreUnsafe(ref Y, (nuint)j);
                    vmax = Vector512.MaxNative(vmax, yj);
                    vsum += yj;
                    if (wantZ) zj.StoreUnsafe(ref Z, (nuint)j);
                }
                total += double.CreateTruncating(Vector512.Sum(vsum));
            }
            if (j < n)
            {
                // The last partial vector through masked loads and stores (lanes past the row are neither read nor written).
                var lanes = Vector512.LessThan(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(n - j)));
                fixed (T* px = &Unsafe.Add(ref X, j))
                fixed (T* py = &Unsafe.Add(ref Y, j))
                {
                    var yj = map.Map(MaskLoad(px, lanes, Vector512.Create(pad)), out var zj);
                    MaskStore(py, lanes, yj);
                    vmax = Vector512.MaxNative(vmax, Vector512.ConditionalSelect(lanes, yj, Vector512.Create(T.NegativeInfinity)));
                    total += double.CreateTruncating(Vector512.Sum(Vector512.ConditionalSelect(lanes, yj, Vector512<T>.Zero)));
                    if (wantZ)
                        fixed (T* pz = &Unsafe.Add(ref Z, j)) MaskStore(pz, lanes, zj);
                }
            }
            sum = T.CreateTruncating(total);
            return MaxOf(vmax);
        }
        else
        {
            int w = Vector<T>.Count;
            var vmax = new Vector<T>(T.NegativeInfinity);
            while (j + w <= n)
            {
                var vsum = Vector<T>.Zero;
                for (int end = Math.Min(n, j + SumBlock); j + w <= end; j += w)
                {
                    var yj = map.Map(Vector.LoadUnsafe(ref X, (nuint)j), out var zj);
                    yj.StoreUnsafe(ref Y, (nuint)j);
                    vmax = Vector.MaxNative(vmax, yj);
                    vsum += yj;
                    if (wantZ) zj.StoreUnsafe(ref Z, (nuint)j);
                }
                total += double.CreateTruncating(Vector.Sum(vsum));
            }
            if (j < n && Avx.IsSupported && w == Vector256<T>.Count)
            {
                // As above, with AVX's masked moves (masked-off lanes load as 0 and are replaced by the padding).
                var lanes = Vector256.LessThan(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(n - j)));
                fixed (T* px = &Unsafe.Add(ref X, j))
                fixed (T* py = &Unsafe.Add(ref Y, j))
                {
                    var xj = Vector256.ConditionalSelect(lanes, MaskLoad(px, lanes), Vector256.Create(pad));
                    var yj = map.Map(xj.AsVector(), out var zj);
                    MaskStore(py, lanes, yj.AsVector256());
                    vmax = Vector.MaxNative(vmax, Vector.ConditionalSelect(lanes.AsVector(), yj, new Vector<T>(T.NegativeInfinity)));
                    total += double.CreateTruncating(Vector.Sum(Vector.ConditionalSelect(lanes.AsVector(), yj, Vector<T>.Zero)));
                    if (wantZ)
                        fixed (T* pz = &Unsafe.Add(ref Z, j)) MaskStore(pz, lanes, zj.AsVector256());
                }
                j = n;
            }
            T m = MaxOf(vmax);
            if (j < n)
            {
                m = T.Max(m, MapTail(map, x[j..], y[j..], wantZ ? z[j..] : default, pad, out T tailSum));
                total += double.CreateTruncating(tailSum);
            }
            sum = T.CreateTruncating(total);
            return m;
        }
    }

    /// <summary>
    /// The last partial vector of <see cref="MapRow"/> (fewer elements than a <see cref="Vector{T}"/>) where there are
    /// no masked moves, through a buffer padded with <paramref name="pad"/>; returns max y and Σ y. A method of its own:
    /// a call inside MapRow would make the JIT keep the running maximum in memory across the row loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T MapTail<TMap>(TMap map, ReadOnlySpan<T> x, Span<T> y, Span<T> z, T pad, out T sum) where TMap : struct, IRowMap
    {
        int rest = x.Length, w = Vector<T>.Count;
        Span<T> buffer = stackalloc T[2 * w];
        buffer.Fill(pad);
        x.CopyTo(buffer);
        ref T B = ref MemoryMarshal.GetReference(buffer);
        var yj = map.Map(Vector.LoadUnsafe(ref B), out var zj);
        yj.StoreUnsafe(ref B);
        zj.StoreUnsafe(ref B, (nuint)w);
        buffer[..rest].CopyTo(y);
        if (!z.IsEmpty) buffer.Slice(w, rest).CopyTo(z);
        T m = T.NegativeInfinity;
        sum = T.Zero;
        for (int l = 0; l < rest; l++)
        {
            m = T.Max(m, buffer[l]);
            sum += buffer[l];
        }
        return m;
    }

    private static Vector512<T> MaskLoad(T* p, Vector512<T> lanes, Vector512<T> merge) =>
        typeof(T) == typeof(float)
            ? Avx512F.MaskLoad((float*)p, lanes.AsSingle(), merge.AsSingle()).As<float, T>()
            : Avx512F.MaskLoad((double*)p, lanes.AsDouble(), merge.AsDouble()).As<double, T>();

    private static void MaskStore(T* p, Vector512<T> lanes, Vector512<T> v)
    {
        if (typeof(T) == typeof(float)) Avx512F.MaskStore((float*)p, lanes.AsSingle(), v.AsSingle());
        else Avx512F.MaskStore((double*)p, lanes.AsDouble(), v.AsDouble());
    }

    private static Vector256<T> MaskLoad(T* p, Vector256<T> lanes) =>
        typeof(T) == typeof(float)
            ? Avx.MaskLoad((float*)p, lanes.AsSingle()).As<float, T>()
            : Avx.MaskLoad((double*)p, lanes.AsDouble()).As<double, T>();

    private static void MaskStore(T* p, Vector256<T> lanes, Vector256<T> v)
    {
        if (typeof(T) == typeof(float)) Avx.MaskStore((float*)p, lanes.AsSingle(), v.AsSingle());
        else Avx.MaskStore((double*)p, lanes.AsDouble(), v.AsDouble());
    }

    /// <summary>The largest lane, halving the vector down to 128 bits first (a row's maximum is taken once per row stage).</summary>
    private static T MaxOf(Vector512<T> v)
    {
        var half = Vector256.MaxNative(v.GetLower(), v.GetUpper());
        return MaxOf(Vector128.MaxNative(half.GetLower(), half.GetUpper()));
    }

    /// <summary>The largest lane.</summary>
    private static T MaxOf(Vector<T> v)
    {
        if (Vector<T>.Count == Vector256<T>.Count)
        {
            var v256 = v.AsVector256();
            return MaxOf(Vector128.MaxNative(v256.GetLower(), v256.GetUpper()));
        }
        if (Vector<T>.Count == Vector128<T>.Count) return MaxOf(v.AsVector128());
        T m = v[0];
        for (int l = 1; l < Vector<T>.Count; l++) m = T.Max(m, v[l]);
        return m;
    }

    /// <summary>The largest lane.</summary>
    private static T MaxOf(Vector128<T> v)
    {
        T m = v[0];
        for (int l = 1; l < Vector128<T>.Count; l++) m = T.Max(m, v[l]);
        return m;
    }

    // The maps and the row loop use the native max (one instruction; IEEE's maximum costs three with AVX-512 and more
    // with AVX2), with the constant first so that a NaN argument, which x86 returns as the second operand, passes
    // through. The row loop's running maximum may drop a NaN, but a NaN term also makes the row's sum NaN.

    /// <summary>s ↦ e^max(s − μ, ln min normal) (the stable Softmax numerator); no second output.</summary>
    private readonly struct ExpMap(T mu) : IRowMap
    {
        private readonly T lo = LogMinNormal;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> Map(Vector512<T> x, out Vector512<T> z)
        {
            z = default;
            return VExp(Vector512.MaxNative(Vector512.Create(lo), x - Vector512.Create(mu)));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<T> Map(Vector<T> x, out Vector<T> z)
        {
            z = default;
            return VExp(Vector.MaxNative(new Vector<T>(lo), x - new Vector<T>(mu)));
        }
    }

    /// <summary>
    /// s ↦ (softplus(s), σ(s)): softplus(s) = max(s, 0) + ln(1 + t) and σ(s) = (s ≥ 0 ? 1 : t)/(1 + t) with
    /// t = e^−|s| ∈ (0, 1], so nothing overflows; ln(1 + t) is taken without forming 1 + t (accurate for tiny t).
    /// σ (a division) only <paramref name="withSigma"/>: the forward does not need it.
    /// </summary>
    private readonly struct SoftplusMap(bool withSigma) : IRowMap
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> Map(Vector512<T> x, out Vector512<T> z)
        {
            var t = VExp(-Vector512.Abs(x));
            z = withSigma ? Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.One, t) / (Vector512<T>.One + t) : default;
            return Vector512.MaxNative(Vector512<T>.Zero, x) + VLog1pUnit(t);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<T> Map(Vector<T> x, out Vector<T> z)
        {
            var t = VExp(-Vector.Abs(x));
            z = withSigma ? Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), Vector<T>.One, t) / (Vector<T>.One + t) : default;
            return Vector.MaxNative(Vector<T>.Zero, x) + VLog1pUnit(t);
        }
    }

    /// <summary>s ↦ (σ(s), σ′(s)) with t = e^−|s|: σ = (s ≥ 0 ? 1 : t)/(1 + t), σ′ = t/(1 + t)² (only <paramref name="withDerivative"/>).</summary>
    private readonly struct SigmoidMap(bool withDerivative) : IRowMap
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> Map(Vector512<T> x, out Vector512<T> z)
        {
            var t = VExp(-Vector512.Abs(x));
            var onePlusT = Vector512<T>.One + t;
            z = withDerivative ? t / (onePlusT * onePlusT) : default;
            return Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.One, t) / onePlusT;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<T> Map(Vector<T> x, out Vector<T> z)
        {
            var t = VExp(-Vector.Abs(x));
            var onePlusT = Vector<T>.One + t;
            z = withDerivative ? t / (onePlusT * onePlusT) : default;
            return Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), Vector<T>.One, t) / onePlusT;
        }
    }

    /// <summary>
    /// a ↦ (y^p, y^(p−1)) for y = a·scale − shift, both 0 where y is below <c>cut</c> (the smallest y whose p-th power
    /// is normal), for an integer p ≥ 1, by square-and-multiply (no call in the row loop: a call would make the JIT
    /// keep the loop's vectors in memory).
    /// </summary>
    private readonly struct IntegerPowerMap(T scale, T shift, T cut, int p) : IRowMap
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> Map(Vector512<T> a, out Vector512<T> z)
        {
            var y = a * Vector512.Create(scale) - Vector512.Create(shift);
            var keep = Vector512.GreaterThanOrEqual(y, Vector512.Create(cut));
            y = Vector512.ConditionalSelect(keep, y, Vector512<T>.Zero);
            z = Vector512.ConditionalSelect(keep, PowInt(y, p - 1), Vector512<T>.Zero);
            return z * y;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<T> Map(Vector<T> a, out Vector<T> z)
        {
            var y = a * new Vector<T>(scale) - new Vector<T>(shift);
            var keep = Vector.GreaterThanOrEqual(y, new Vector<T>(cut));
            y = Vector.ConditionalSelect(keep, y, Vector<T>.Zero);
            z = Vector.ConditionalSelect(keep, PowInt(y, p - 1), Vector<T>.Zero);
            return z * y;
        }
    }

    /// <summary><see cref="IntegerPowerMap"/> for any real p ≥ 1: y^(p−1) = e^((p−1)·ln y).</summary>
    private readonly struct RealPowerMap(T scale, T shift, T cut, double p) : IRowMap
    {
        private readonly T pm1 = T.CreateChecked(p) - T.One;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<T> Map(Vector512<T> a, out Vector512<T> z)
        {
            var y = a * Vector512.Create(scale) - Vector512.Create(shift);
            var keep = Vector512.GreaterThanOrEqual(y, Vector512.Create(cut));
            y = Vector512.ConditionalSelect(keep, y, Vector512<T>.One);          // ln stays finite where the lane is dropped
            z = Vector512.ConditionalSelect(keep, VExp(VLog(y) * Vector512.Create(pm1)), Vector512<T>.Zero);
            return z * y;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector<T> Map(Vector<T> a, out Vector<T> z)
        {
            var y = a * new Vector<T>(scale) - new Vector<T>(shift);
            var keep = Vector.GreaterThanOrEqual(y, new Vector<T>(cut));
            y = Vector.ConditionalSelect(keep, y, Vector<T>.One);
            z = Vector.ConditionalSelect(keep, VExp(VLog(y) * new Vector<T>(pm1)), Vector<T>.Zero);
            return z * y;
        }
    }
}
