namespace Engine.Nn;

/// <summary>
/// Stochastic gradient descent with optional momentum (heavy-ball or Nesterov) and L2 weight decay, as in PyTorch:
/// g' = g + wd·p, buf ← μ·buf + g' (buf = g' on the first step), p ← p − lr·(nesterov ? g' + μ·buf : buf).
/// One fused flat loop per parameter (<see cref="IBackend.SgdStep"/>). State: "{name}.momentum_buffer" and "step".
/// </summary>
public sealed class Sgd : Optimizer
{
    private readonly Dictionary<string, Tensor> buffers = [];

    /// <summary>SGD over parameter groups.</summary>
    public Sgd(IEnumerable<ParamGroup> groups, double learningRate, double momentum = 0, bool nesterov = false)
        : base(groups, learningRate, "sgd")
    {
        if (!(momentum >= 0 && momentum < 1)) throw new ArgumentException($"sgd: momentum must be in [0, 1), got {momentum}");
        if (nesterov && momentum == 0) throw new ArgumentException("sgd: Nesterov momentum needs momentum > 0");
        Momentum = momentum;
        Nesterov = nesterov;
        if (momentum > 0)
            foreach (var (name, p) in NamedParameters()) buffers[name] = Tensor.Zeros(p.Shape, p.DType, p.Device);
    }

    /// <summary>SGD over every parameter of a model.</summary>
    public Sgd(Module model, double learningRate, double momentum = 0, double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(model.NamedParameters(), weightDecay)], learningRate, momentum, nesterov) { }

    /// <summary>Momentum factor μ (0: plain SGD).</summary>
    public double Momentum { get; }
    /// <summary>Whether the update uses Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(string name, Tensor parameter, Storage grad, double lr, double weightDecay) =>
        parameter.Backend.SgdStep(parameter.Storage, grad, Momentum > 0 ? buffers[name].Storage : null, lr, Momentum, weightDecay, Nesterov, StepCount == 1);

    /// <inheritdoc/>
    protected override IEnumerable<(string Key, Tensor State)> StateTensors() =>
        buffers.Select(b => ($"{b.Key}.momentum_buffer", b.Value));
}
