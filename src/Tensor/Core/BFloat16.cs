namespace Engine;

/// <summary>
/// A bfloat16 value: the upper 16 bits of an IEEE float32 (sign, 8 exponent bits, 7 stored mantissa bits, so 8
/// significant bits and a unit roundoff of 2⁻⁸). It has float32's range; every bfloat16 is exactly a float32.
/// The element type of <see cref="DType.BFloat16"/> storages on the host.
/// </summary>
public readonly record struct BFloat16
{
    /// <summary>The value with these raw bits.</summary>
    public BFloat16(ushort bits) => Bits = bits;

    /// <summary>The raw bits (the high half of the float32 with the same value).</summary>
    public ushort Bits { get; }

    /// <summary>
    /// The nearest bfloat16 to <paramref name="value"/>, ties to even (the conversion of the CUDA kernels,
    /// <c>convert.cu</c>): finite values that round past the largest bfloat16 become ±infinity, subnormals round like
    /// normal numbers (no flush to zero), ±infinity stays, and a NaN becomes the quiet NaN of its sign (0x7FC0/0xFFC0).
    /// </summary>
    public static BFloat16 FromSingle(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if ((bits & 0x7FFFFFFFu) > 0x7F800000u) return new BFloat16((ushort)((bits >> 16) | 0x7FC0u));
        uint rounded = bits + 0x7FFFu + ((bits >> 16) & 1u);
        return new BFloat16((ushort)(rounded >> 16));
    }

    /// <summary>The value as float32 (exact).</summary>
    public float ToSingle() => BitConverter.UInt32BitsToSingle((uint)Bits << 16);

    /// <summary>Rounds a float32 to the nearest bfloat16 (ties to even).</summary>
    public static explicit operator BFloat16(float value) => FromSingle(value);

    /// <summary>The value as float32 (exact).</summary>
    public static implicit operator float(BFloat16 value) => value.ToSingle();

    /// <inheritdoc/>
    public override string ToString() => ToSingle().ToString(System.Globalization.CultureInfo.InvariantCulture);
}
