using System.Collections.ObjectModel;

namespace Engine.Nn;

/// <summary>
/// The base of the optimisers: parameter groups, a learning rate, a step counter and a state dict of named tensors
/// (moments, momentum buffers, and <c>step</c>) so a checkpoint can resume training exactly.
/// </summary>
public abstract class Optimizer
{
    /// <summary>Creates an optimiser over parameter groups; every parameter may appear once.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, double learningRate, string name)
    {
        Name = name;
        Groups = groups.ToArray();
        LearningRate = learningRate;
        var seen = new HashSet<string>();
        var tensors = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (pname, p) in Groups.SelectMany(g => g.Parameters))
        {
            if (!seen.Add(pname)) throw new ArgumentException($"{name}: the parameter name '{pname}' appears more than once");
            if (!tensors.Add(p)) throw new ArgumentException($"{name}: the parameter '{pname}' appears more than once (same tensor)");
            if (!p.DType.IsFloat() || !p.IsLeaf)
                throw new ArgumentException($"{name}: '{pname}' must be a floating-point leaf tensor, got {p.DType.Name()}{(p.IsLeaf ? "" : " made by " + p.GradFn!.Name)}");
            if (!p.IsDense)
                throw new ArgumentException($"{name}: '{pname}' must own its storage contiguously (layout {p.Layout}); optimisers update it in place");
        }
        if (seen.Count == 0) throw new ArgumentException($"{name}: no parameters to optimise");
    }

    /// <summary>Short name used in messages ("adamw", "sgd").</summary>
    public string Name { get; }

    /// <summary>The parameter groups.</summary>
    public IReadOnlyList<ParamGroup> Groups { get; }

    private double learningRate;

    /// <summary>The base learning rate (set it every step from a schedule).</summary>
    public double LearningRate
    {
        get => learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentException($"{Name}: learning rate must be finite and ≥ 0, got {value}");
            learningRate = value;
        }
    }

    /// <summary>Number of steps taken so far.</summary>
    public int StepCount { get; protected set; }

    /// <summary>Every parameter with its name.</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters() => Groups.SelectMany(g => g.Parameters);

    /// <summary>Updates every parameter that has a gradient (parameters without one are left alone).</summary>
    public void Step()
    {
        StepCount++;
        foreach (var group in Groups)
        {
            double lr = LearningRate * group.LrScale;
            foreach (var (name, p) in group.Parameters)
            {
                if (p.Grad is not { } g) continue;
                if (!Shapes.Equal(g.Shape, p.Shape) || g.DType != p.DType || g.Device != p.Device)
                    throw new InvalidOperationException($"{Name}: the gradient of '{name}' is {g.DType.Name()} {Shapes.Format(g.Shape)} on {g.Device}, the parameter {p.DType.Name()} {Shapes.Format(p.Shape)} on {p.Device}");
                Update(name, p, g.Packed(), lr, group.WeightDecay);
            }
        }
    }

    /// <summary>One parameter's update with its (packed) gradient storage.</summary>
    protected abstract void Update(string name, Tensor parameter, Storage grad, double lr, double weightDecay);

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in NamedParameters()) p.ZeroGrad();
    }

    /// <summary>The per-parameter state tensors, keyed "{parameter}.{slot}".</summary>
    protected abstract IEnumerable<(string Key, Tensor State)> StateTensors();

    /// <summary>
    /// The optimiser state: every state tensor (detached, sharing storage) keyed "{parameter}.{slot}" and "step"
    /// (int32 [1]). Hyper-parameters are not included; they belong to the training configuration.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (key, t) in StateTensors()) dict[key] = t.Detach();
        dict["step"] = Tensor.FromArray(new[] { StepCount });
        return new ReadOnlyDictionary<string, Tensor>(dict);
    }

    /// <summary>Restores a state written by <see cref="StateDict"/>: every key must be present with the same shape and dtype; nothing is changed on error.</summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var own = StateTensors().ToList();
        var problems = new List<string>();
        foreach (var (key, t) in own)
        {
            if (!state.TryGetValue(key, out var src)) problems.Add($"missing '{key}'");
            else if (!Shapes.Equal(src.Shape, t.Shape) || src.DType != t.DType)
                problems.Add($"'{key}' is {src.DType.Name()} {Shapes.Format(src.Shape)}, expected {t.DType.Name()} {Shapes.Format(t.Shape)}");
        }
        if (!state.TryGetValue("step", out var step) || step.DType != DType.Int32 || step.Count != 1)
            problems.Add("missing 'step' (int32, one element)");
        else if (step.Item() < 0) problems.Add($"'step' is negative ({step.Item()})");
        var known = own.Select(o => o.Key).Append("step").ToHashSet();
        foreach (var key in state.Keys.Where(k => !known.Contains(k))) problems.Add($"unexpected '{key}'");
        if (problems.Count > 0) throw new ArgumentException($"{Name} load_state_dict: {string.Join("; ", problems)}");
        foreach (var (key, t) in own)
        {
            var src = state[key];
            if (src.Device != t.Device) src = src.To(t.Device);
            t.Backend.CopyInto(src.Storage, src.Layout, t.Storage, t.Layout);
        }
        StepCount = (int)step!.Item();
    }
}
