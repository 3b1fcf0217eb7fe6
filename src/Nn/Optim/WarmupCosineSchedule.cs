namespace Engine.Nn;

/// <summary>
/// Linear warmup to <paramref name="MaxLr"/> over <paramref name="WarmupSteps"/> steps, then a half-cosine decay to
/// <paramref name="MinLr"/> at <paramref name="TotalSteps"/>, constant after that. Steps count from 0.
/// </summary>
/// <param name="MaxLr">Peak learning rate.</param>
/// <param name="WarmupSteps">Steps of linear warmup (0 for none).</param>
/// <param name="TotalSteps">The step at which the decay reaches <paramref name="MinLr"/>.</param>
/// <param name="MinLr">Final learning rate.</param>
public sealed record WarmupCosineSchedule(double MaxLr, int WarmupSteps, int TotalSteps, double MinLr = 0)
{
    /// <summary>The learning rate for step <paramref name="step"/> (0-based).</summary>
    public double At(int step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "lr schedule: step must be ≥ 0");
        if (WarmupSteps < 0 || TotalSteps < WarmupSteps)
            throw new ArgumentException($"lr schedule: need 0 ≤ WarmupSteps ≤ TotalSteps, got {WarmupSteps}, {TotalSteps}");
        if (step < WarmupSteps) return MaxLr * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return MinLr + 0.5 * (MaxLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }
}

