namespace Engine;

/// <summary>Element type of a tensor.</summary>
public enum DType
{
    /// <summary>32-bit IEEE float: the training type.</summary>
    Float32,
    /// <summary>64-bit IEEE float: used by gradient checks.</summary>
    Float64,
    /// <summary>32-bit signed integer: indices (embedding lookup, gather, argmax results).</summary>
    Int32,
    /// <summary>
    /// bfloat16 (<see cref="Engine.BFloat16"/>, 2 bytes): the operand type of mixed-precision matrix products
    /// (<see cref="Autocast"/>). Only casts, copies, moves between devices and <see cref="Tensor.MatMul"/> (which returns
    /// float32) accept it; every other op refuses it with an error naming the op.
    /// </summary>
    BFloat16,
}

/// <summary>Helpers for <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>Size of one element in bytes.</summary>
    public static int SizeOf(this DType dtype) => dtype switch
    {
        DType.Float32 => 4,
        DType.Float64 => 8,
        DType.Int32 => 4,
        DType.BFloat16 => 2,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown dtype"),
    };

    /// <summary>True for the floating-point types (bfloat16 included).</summary>
    public static bool IsFloat(this DType dtype) => dtype is DType.Float32 or DType.Float64 or DType.BFloat16;

    /// <summary>True for the types every floating-point op computes in: float32 and float64 (not bfloat16).</summary>
    public static bool IsComputeFloat(this DType dtype) => dtype is DType.Float32 or DType.Float64;

    /// <summary>The <see cref="DType"/> of a CLR element type.</summary>
    public static DType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? DType.Float32 :
        typeof(T) == typeof(double) ? DType.Float64 :
        typeof(T) == typeof(int) ? DType.Int32 :
        typeof(T) == typeof(BFloat16) ? DType.BFloat16 :
        throw new NotSupportedException($"element type {typeof(T).Name} is not supported; use float, double, int or BFloat16");

    /// <summary>Lower-case name as printed in messages ("float32").</summary>
    public static string Name(this DType dtype) => dtype switch
    {
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Int32 => "int32",
        DType.BFloat16 => "bfloat16",
        _ => dtype.ToString(),
    };
}
