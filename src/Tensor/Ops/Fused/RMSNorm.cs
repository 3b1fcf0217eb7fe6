namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// RMS normalisation over the last dim, fused: y = x/√(mean(x²) + eps) ⊙ weight (no centring, no bias).
    /// <paramref name="weight"/> is [last dim] or null (then 1). Shares its kernels and backward
    /// (<c>NormNode</c>, in LayerNorm.cs) with <see cref="LayerNorm"/>; the reference is <see cref="NormReference.RMSNorm"/>.
    /// </summary>
    public Tensor RMSNorm(Tensor? weight = null, double eps = 1e-5) => Norm(weight, null, eps, rms: true, "rms_norm");
}
