using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

/// <summary>
/// Vector maths shared by the CPU kernels, generic over float and double: fused multiply-add at every width, exp and
/// log, and integer powers by square-and-multiply (the same order of products at every width, so the vector and
/// scalar tails agree bit for bit).
/// </summary>
internal static class SimdMath
{
    /// <summary>x·y + acc in one rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Fma<T>(Vector<T> x, Vector<T> y, Vector<T> acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }

    /// <summary>x·y + acc; without FMA hardware a multiply and an add (Vector256's software FMA would be far slower).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> x, Vector256<T> y, Vector256<T> acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!System.Runtime.Intrinsics.X86.Fma.IsSupported) return x * y + acc;
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }

    /// <summary>x·y + acc in one rounding.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma<T>(Vector512<T> x, Vector512<T> y, Vector512<T> acc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }

    // e^x for float runs here, not through Vector512.Exp<float>, which evaluates every lane in double (about five
    // times slower, and the attention row stages compute one or two exponentials per score). The reduction is
    // Cody and Waite's: x = n·ln 2 + r with |r| ≤ ln 2 / 2, ln 2 split in two so that n·ln 2 is exact for |n| ≤ 128;
    // e^r = 1 + r + r²·P(r) with P of degree 5 (the coefficients of Cephes' expf, Moshier 1984); 2^n is written into
    // the exponent bits. Every width and the scalar version run the same operations in the same order (with fused
    // multiply-adds), so results do not depend on the vector width. Within 1 ulp of e^x on a sweep of the domain
    // (tests/Engine.Tensors.Tests/SimdMathTests.cs). n stays within [−126, 128], so the native (non-saturating)
    // float-to-int conversion is exact.

    /// <summary>Smallest float argument of the fast exp, just above ln of the smallest normal float (−87.34), so that no result is subnormal (slow on x86, and below 10⁻³⁸).</summary>
    public const float ExpMin = -87.3f;
    /// <summary>Largest float argument of the fast exp: e^88.37 ≈ 2.5·10³⁸ is still finite.</summary>
    public const float ExpMax = 88.37f;
    private const float Log2E = 1.44269504088896341f, Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f, E3 = 4.1665795894e-2f, E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;

    /// <summary>e^x for float, x clamped to [<see cref="ExpMin"/>, <see cref="ExpMax"/>] (so the result is a normal number).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ExpF(float x)
    {
        x = Math.Clamp(x, ExpMin, ExpMax);
        float n = MathF.Round(x * Log2E);
        float r = MathF.FusedMultiplyAdd(n, -Ln2Hi, x);
        r = MathF.FusedMultiplyAdd(n, -Ln2Lo, r);
        float p = MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(E0, r, E1), r, E2), r, E3), r, E4), r, E5);
        p = MathF.FusedMultiplyAdd(p, r * r, r) + 1f;
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary><see cref="ExpF(float)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> ExpF(Vector<float> x)
    {
        x = Vector.MinNative(new Vector<float>(ExpMax), Vector.MaxNative(new Vector<float>(ExpMin), x));   // NaN x passes (x86 returns the second operand)
        var n = Vector.Round(x * new Vector<float>(Log2E));
        var r = Vector.FusedMultiplyAdd(n, new Vector<float>(-Ln2Hi), x);
        r = Vector.FusedMultiplyAdd(n, new Vector<float>(-Ln2Lo), r);
        var p = Vector.FusedMultiplyAdd(new Vector<float>(E0), r, new Vector<float>(E1));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(E2));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(E3));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(E4));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(E5));
        p = Vector.FusedMultiplyAdd(p, r * r, r) + Vector<float>.One;
        return p * Vector.ShiftLeft(Vector.ConvertToInt32Native(n) + new Vector<int>(127), 23).As<int, float>();
    }

    /// <summary><see cref="ExpF(float)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ExpF(Vector512<float> x)
    {
        x = Vector512.MinNative(Vector512.Create(ExpMax), Vector512.MaxNative(Vector512.Create(ExpMin), x));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(E0), r, Vector512.Create(E1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return p * Vector512.ShiftLeft(Vector512.ConvertToInt32Native(n) + Vector512.Create(127), 23).AsSingle();
    }

    // ln(1 + t) for t ∈ [0, 1] as t·q(t), q(t) = ln(1 + t)/t a polynomial of degree 9: its Chebyshev interpolant on
    // [0, 1] (computed with mpmath's chebyfit; 5·10⁻⁹ relative error before rounding). Only multiply-adds, no
    // division (a 512-bit division costs as much as the rest of softplus), and no 1 + t is formed, so a tiny t is
    // kept, not rounded away. Softplus needs it once per score.
    private const float L0 = -0.00317605701843f, L1 = 0.019542527261f, L2 = -0.0563736128301f, L3 = 0.105436237954f, L4 = -0.152696670744f;
    private const float L5 = 0.196632742572f, L6 = -0.249516162629f, L7 = 0.333297104989f, L8 = -0.499998926481f, L9 = 0.999999994656f;

    /// <summary>ln(1 + t) for float t ∈ [0, 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Log1pUnitF(float t)
    {
        float q = MathF.FusedMultiplyAdd(L0, t, L1);
        q = MathF.FusedMultiplyAdd(q, t, L2);
        q = MathF.FusedMultiplyAdd(q, t, L3);
        q = MathF.FusedMultiplyAdd(q, t, L4);
        q = MathF.FusedMultiplyAdd(q, t, L5);
        q = MathF.FusedMultiplyAdd(q, t, L6);
        q = MathF.FusedMultiplyAdd(q, t, L7);
        q = MathF.FusedMultiplyAdd(q, t, L8);
        q = MathF.FusedMultiplyAdd(q, t, L9);
        return t * q;
    }

    /// <summary><see cref="Log1pUnitF(float)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Log1pUnitF(Vector<float> t)
    {
        var q = Vector.FusedMultiplyAdd(new Vector<float>(L0), t, new Vector<float>(L1));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L2));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L3));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L4));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L5));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L6));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L7));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L8));
        q = Vector.FusedMultiplyAdd(q, t, new Vector<float>(L9));
        return t * q;
    }

    /// <summary><see cref="Log1pUnitF(float)"/> per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Log1pUnitF(Vector512<float> t)
    {
        var q = Vector512.FusedMultiplyAdd(Vector512.Create(L0), t, Vector512.Create(L1));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L2));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L3));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L4));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L5));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L6));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L7));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L8));
        q = Vector512.FusedMultiplyAdd(q, t, Vector512.Create(L9));
        return t * q;
    }

    /// <summary>e^x per lane; float lanes through <see cref="ExpF(Vector{float})"/> (x clamped to its domain).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> VExp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpF(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>e^x per lane; float lanes through <see cref="ExpF(Vector512{float})"/> (x clamped to its domain).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> VExp<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return ExpF(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }


    /// <summary>ln(1 + t) per lane for t ∈ [0, 1] (float through <see cref="Log1pUnitF(Vector{float})"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> VLog1pUnit<T>(Vector<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Log1pUnitF(t.As<T, float>()).As<float, T>();
        return VLog(Vector<T>.One + t);
    }

    /// <summary>ln(1 + t) per lane for t ∈ [0, 1] (float through <see cref="Log1pUnitF(Vector512{float})"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> VLog1pUnit<T>(Vector512<T> t) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Log1pUnitF(t.As<T, float>()).As<float, T>();
        return VLog(Vector512<T>.One + t);
    }

    /// <summary>ln x per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> VLog<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.Log(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>ln x per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> VLog<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.Log(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>Elements per float partial sum of <see cref="AccurateSum{T}"/>; the partial sums are added in double.</summary>
    public const int SumBlock = 256;

    /// <summary>
    /// Σ x, accurate at any length and on every vector width: float runs are summed in blocks of 256 (vectorised, in
    /// float) and the block sums in double. Summed straight through, a float32 row of 16 384 terms near 1/n drifts by
    /// ~10⁻⁴ on the 128-bit and scalar paths (the sum saturates as it approaches 1), so normalised rows would not sum
    /// to 1 and long reductions would be biased. Double runs use TensorPrimitives.Sum as they are.
    /// </summary>
    public static T AccurateSum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int block = SumBlock;
        if (typeof(T) == typeof(double) || x.Length <= block) return System.Numerics.Tensors.TensorPrimitives.Sum(x);
        double total = 0;
        for (int i = 0; i < x.Length; i += block)
            total += double.CreateTruncating(System.Numerics.Tensors.TensorPrimitives.Sum(x.Slice(i, Math.Min(block, x.Length - i))));
        return T.CreateTruncating(total);
    }

    /// <summary>y^e for e ≥ 0 by square-and-multiply.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T PowInt<T>(T y, int e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T result = (e & 1) != 0 ? y : T.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }

    /// <summary>y^e per lane for e ≥ 0, in the order of <see cref="PowInt{T}(T, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> PowInt<T>(Vector<T> y, int e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = (e & 1) != 0 ? y : Vector<T>.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }

    /// <summary>y^e per lane for e ≥ 0, in the order of <see cref="PowInt{T}(T, int)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> PowInt<T>(Vector512<T> y, int e) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = (e & 1) != 0 ? y : Vector512<T>.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }
}
