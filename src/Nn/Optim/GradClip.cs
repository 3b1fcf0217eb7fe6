namespace Engine.Nn;

/// <summary>Gradient clipping.</summary>
public static class GradClip
{
    /// <summary>
    /// The global L2 norm of all gradients, √(Σ‖g‖²), accumulated in double; when it exceeds <paramref name="maxNorm"/>
    /// every gradient is scaled by maxNorm / norm in place. Returns the norm before clipping. A non-finite norm is
    /// returned without touching the gradients, so the caller can skip the step.
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentException($"clip_grad_norm: max norm must be positive, got {maxNorm}");
        var grads = parameters.Where(p => p.Grad is not null).ToList();
        double sumSq = 0;
        foreach (var p in grads)
        {
            var g = p.Grad!;
            sumSq += g.DType == DType.Float64 ? g.Square().Sum().Item() : g.To(DType.Float64).Square().Sum().Item();
        }
        double norm = Math.Sqrt(sumSq);
        if (!double.IsFinite(norm) || norm <= maxNorm) return norm;
        double scale = maxNorm / (norm + 1e-6);
        foreach (var p in grads)
        {
            var g = p.Grad!;
            if (g.IsDense)
                g.Backend.ScaleInPlace(g.Storage, scale);
            else
                p.Grad = g.MulScalar(scale);
        }
        return norm;
    }
}
