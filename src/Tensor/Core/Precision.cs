namespace Engine;

/// <summary>The arithmetic of matrix products during training and evaluation (see <see cref="Autocast"/>).</summary>
public enum Precision
{
    /// <summary>Plain float32 everywhere (the default; results match the CPU to float32 rounding).</summary>
    Float32,
    /// <summary>
    /// Float32 tensors, but float32 matrix products on CUDA may use TF32 tensor cores (inputs rounded to 10 mantissa
    /// bits, float32 accumulation). On the CPU it computes exactly like <see cref="Float32"/>.
    /// </summary>
    TF32,
    /// <summary>
    /// bfloat16 autocast: matmul operands are cast to bfloat16 (float32 master weights), products accumulate and
    /// return in float32; everything else stays float32.
    /// </summary>
    BFloat16,
}

/// <summary>Names of <see cref="Precision"/> as the command line spells them.</summary>
public static class Precisions
{
    /// <summary>The accepted spellings, for messages.</summary>
    public const string Choices = "fp32, tf32 or bf16";

    /// <summary>"fp32", "tf32" or "bf16".</summary>
    public static string Name(this Precision precision) => precision switch
    {
        Precision.TF32 => "tf32",
        Precision.BFloat16 => "bf16",
        _ => "fp32",
    };

    /// <summary>Parses fp32/float32, tf32, bf16/bfloat16 (any case); false for anything else.</summary>
    public static bool TryParse(string? text, out Precision precision)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "fp32" or "float32" or "f32": precision = Precision.Float32; return true;
            case "tf32": precision = Precision.TF32; return true;
            case "bf16" or "bfloat16": precision = Precision.BFloat16; return true;
            default: precision = Precision.Float32; return false;
        }
    }
}
