namespace Engine.Nn;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter): m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g²,
/// p ← p − lr·(wd·p + m̂/(√v̂ + ε)) with m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). Each parameter's update is one fused flat
/// loop (<see cref="IBackend.AdamWStep"/>). State: "{name}.exp_avg", "{name}.exp_avg_sq" and "step".
/// </summary>
public sealed class AdamW : Optimizer
{
    private readonly Dictionary<string, (Tensor M, Tensor V)> moments = [];

    /// <summary>AdamW over parameter groups (each with its own weight decay).</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double learningRate = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : base(groups, learningRate, "adamw")
    {
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) throw new ArgumentException($"adamw: betas must be in [0, 1), got {beta1}, {beta2}");
        if (!(eps > 0)) throw new ArgumentException($"adamw: eps must be positive, got {eps}");
        Beta1 = beta1; Beta2 = beta2; Eps = eps;
        foreach (var (name, p) in NamedParameters())
            moments[name] = (Tensor.Zeros(p.Shape, p.DType, p.Device), Tensor.Zeros(p.Shape, p.DType, p.Device));
    }

    /// <summary>AdamW over every parameter of a model with one weight decay for all of them.</summary>
    public AdamW(Module model, double learningRate = 1e-3, double weightDecay = 0.01, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
        : this([new ParamGroup(model.NamedParameters(), weightDecay)], learningRate, beta1, beta2, eps) { }

    /// <summary>First-moment decay.</summary>
    public double Beta1 { get; }
    /// <summary>Second-moment decay.</summary>
    public double Beta2 { get; }
    /// <summary>Denominator floor.</summary>
    public double Eps { get; }

    /// <inheritdoc/>
    protected override void Update(string name, Tensor parameter, Storage grad, double lr, double weightDecay)
    {
        var (m, v) = moments[name];
        parameter.Backend.AdamWStep(parameter.Storage, grad, m.Storage, v.Storage, lr, Beta1, Beta2, Eps, weightDecay, StepCount);
    }

    /// <inheritdoc/>
    protected override IEnumerable<(string Key, Tensor State)> StateTensors()
    {
        foreach (var (name, _) in NamedParameters())
        {
            yield return ($"{name}.exp_avg", moments[name].M);
            yield return ($"{name}.exp_avg_sq", moments[name].V);
        }
    }
}
