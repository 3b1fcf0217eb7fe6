namespace Engine.Nn;

/// <summary>Gradient clipping.</summary>
public static class GradClip
{
    /// <summary>
    /// The global L2 norm of all gradients, √(Σ‖g‖²), accumulated in double; when it exceeds <paramref name="maxNorm"/>
    /// every gradient is scaled by maxNorm / norm in place. Returns the norm before clipping. A non-finite norm is
    /// returned without touching the gradients, so the caller can skip the step. On a device this reads one number
    /// back (the squared norm, summed on the device).
    /// </summary>
    public static double ClipGlobalNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentException($"clip_grad_norm: max norm must be positive, got {maxNorm}");
        var list = parameters as IReadOnlyCollection<Tensor> ?? parameters.ToList();
        double norm = Math.Sqrt(SquaredNorm(list).Item());
        return ScaleToNorm(list, norm, maxNorm);
    }

    /// <summary>
    /// Σ‖g‖² over every parameter's gradient as a float64 scalar tensor on the gradients' device (the CPU when there
    /// are none), summed in parameter order without reading anything back: the first half of
    /// <see cref="ClipGlobalNorm"/>, for callers that read it together with other values.
    /// </summary>
    public static Tensor SquaredNorm(IEnumerable<Tensor> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Tensor? sum = null;
        foreach (var p in parameters)
        {
            if (p.Grad is not { } g) continue;
            var sq = (g.DType == DType.Float64 ? g : g.To(DType.Float64)).Square().Sum();
            sum = sum is null ? sq : sum.Add(sq.To(sum.Device));
        }
        return sum ?? Tensor.Zeros([], DType.Float64);
    }

    /// <summary>
    /// The second half of <see cref="ClipGlobalNorm"/>: given the global <paramref name="norm"/>, scales every gradient
    /// by maxNorm / norm in place when the norm is finite and above <paramref name="maxNorm"/>. Returns the norm.
    /// </summary>
    public static double ScaleToNorm(IEnumerable<Tensor> parameters, double norm, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (!(maxNorm > 0)) throw new ArgumentException($"clip_grad_norm: max norm must be positive, got {maxNorm}");
        if (!double.IsFinite(norm) || norm <= maxNorm) return norm;
        double scale = maxNorm / (norm + 1e-6);
        foreach (var p in parameters)
        {
            if (p.Grad is not { } g) continue;
            if (g.IsDense)
                g.Backend.ScaleInPlace(g.Storage, scale);
            else
                p.Grad = g.MulScalar(scale);
        }
        return norm;
    }
}
