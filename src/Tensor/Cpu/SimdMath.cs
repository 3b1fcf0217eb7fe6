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

    /// <summary>e^x per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> VExp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>e^x per lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> VExp<T>(Vector512<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector512.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
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

    /// <summary>
    /// Σ x, accurate at any length and on every vector width: float runs are summed in blocks of 256 (vectorised, in
    /// float) and the block sums in double. Summed straight through, a float32 row of 16 384 terms near 1/n drifts by
    /// ~10⁻⁴ on the 128-bit and scalar paths (the sum saturates as it approaches 1), so normalised rows would not sum
    /// to 1 and long reductions would be biased. Double runs use TensorPrimitives.Sum as they are.
    /// </summary>
    public static T AccurateSum<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int block = 256;
        if (typeof(T) == typeof(double) || x.Length <= block) return System.Numerics.Tensors.TensorPrimitives.Sum(x);
        double total = 0;
        for (int i = 0; i < x.Length; i += block)
            total += double.CreateTruncating(System.Numerics.Tensors.TensorPrimitives.Sum(x.Slice(i, Math.Min(block, x.Length - i))));
        return T.CreateTruncating(total);
    }

    /// <summary>y^e for e ≥ 0 by square-and-multiply.</summary>
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
