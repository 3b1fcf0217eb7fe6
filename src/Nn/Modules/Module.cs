using System.Collections.ObjectModel;
using Engine.Autograd;

namespace Engine.Nn;

/// <summary>
/// The base of every layer: a tree of named parameters and submodules, registered explicitly in the constructor
/// (no reflection), so each parameter has a stable dotted name such as <c>blocks.0.attn.qkv.weight</c>.
/// A parameter is a plain leaf <see cref="Tensor"/> with <see cref="Tensor.RequiresGrad"/> set; the module owns it
/// and forward passes read it through <see cref="Param"/>, so <see cref="To(Device)"/> can move every parameter.
/// </summary>
public abstract class Module
{
    private readonly List<string> parameterOrder = [];
    private readonly Dictionary<string, Tensor> parameters = [];
    private readonly List<(string Name, Module Module)> children = [];

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>: dropout and the inference attention read it.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>Registers a parameter under a local name (no dots) and marks it as requiring a gradient.</summary>
    protected Tensor AddParameter(string name, Tensor value)
    {
        CheckName(name);
        if (!value.DType.IsFloat())
            throw new ArgumentException($"{GetType().Name}: parameter '{name}' must be floating-point, got {value.DType.Name()}");
        if (!value.IsLeaf)
            throw new ArgumentException($"{GetType().Name}: parameter '{name}' must be a leaf tensor (made by {value.GradFn!.Name}); pass a Detach()ed copy");
        value.RequiresGrad = true;
        parameterOrder.Add(name);
        parameters[name] = value;
        return value;
    }

    /// <summary>Registers a submodule under a local name (no dots); its parameters are named "name.param".</summary>
    protected T AddModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        children.Add((name, module));
        return module;
    }

    private void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"{GetType().Name}: '{name}' is not a valid local name (non-empty, no dots)");
        if (parameters.ContainsKey(name) || children.Any(c => c.Name == name))
            throw new ArgumentException($"{GetType().Name}: the name '{name}' is already registered");
    }

    /// <summary>The current tensor of one of this module's own parameters.</summary>
    protected Tensor Param(string name) => parameters.TryGetValue(name, out var p) ? p
        : throw new KeyNotFoundException($"{GetType().Name}: no parameter named '{name}'");

    /// <summary>The direct submodules with their local names, in registration order.</summary>
    public IEnumerable<(string Name, Module Module)> Children() => children;

    /// <summary>Every parameter of this module and its submodules with its dotted name, in registration order (depth first).</summary>
    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters()
    {
        foreach (var name in parameterOrder) yield return (name, parameters[name]);
        foreach (var (childName, child) in children)
            foreach (var (name, p) in child.NamedParameters())
                yield return ($"{childName}.{name}", p);
    }

    /// <summary>Every parameter, in the order of <see cref="NamedParameters"/>.</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(p => p.Parameter);

    /// <summary>The device of the parameters (see <see cref="To(Engine.Device)"/>); the CPU for a module without any.</summary>
    public Device Device => Parameters().FirstOrDefault()?.Device ?? Device.Cpu;

    /// <summary>The total number of parameter elements.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Count);

    /// <summary>
    /// The parameters by dotted name (insertion-ordered), as detached tensors sharing the parameters' storage:
    /// what a checkpoint writes. Copy them before changing the model if a snapshot is needed.
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> StateDict()
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var (name, p) in NamedParameters()) dict[name] = p.Detach();
        return new ReadOnlyDictionary<string, Tensor>(dict);
    }

    /// <summary>
    /// Copies values into the parameters, in place (optimisers keep their references). Every tensor is checked
    /// before anything is copied: shapes and dtypes must match exactly; with <paramref name="strict"/>, names
    /// missing from <paramref name="state"/> or unknown to the model are errors too. Errors name the tensor.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var own = NamedParameters().ToList();
        var problems = new List<string>();
        foreach (var (name, p) in own)
        {
            if (!state.TryGetValue(name, out var src))
            {
                if (strict) problems.Add($"missing '{name}' (expected {p.DType.Name()} {Shapes.Format(p.Shape)})");
                continue;
            }
            if (!Shapes.Equal(src.Shape, p.Shape))
                problems.Add($"'{name}' has shape {Shapes.Format(src.Shape)}, the model expects {Shapes.Format(p.Shape)}");
            else if (src.DType != p.DType)
                problems.Add($"'{name}' has dtype {src.DType.Name()}, the model expects {p.DType.Name()}");
        }
        if (strict)
        {
            var known = own.Select(o => o.Name).ToHashSet();
            foreach (var name in state.Keys.Where(k => !known.Contains(k)))
                problems.Add($"unexpected '{name}' (shape {Shapes.Format(state[name].Shape)}), not a parameter of this {GetType().Name}");
        }
        if (problems.Count > 0)
            throw new ArgumentException($"load_state_dict: {problems.Count} problem(s): {string.Join("; ", problems)}");
        using var _ = new NoGrad();
        foreach (var (name, p) in own)
        {
            if (!state.TryGetValue(name, out var src)) continue;
            var s = src.Device == p.Device ? src : src.To(p.Device);
            p.Backend.CopyInto(s.Storage, s.Layout, p.Storage, p.Layout);
        }
    }

    /// <summary>Sets training mode on this module and every submodule; returns this module.</summary>
    public Module Train(bool training = true)
    {
        Training = training;
        foreach (var (_, child) in children) child.Train(training);
        return this;
    }

    /// <summary>Evaluation mode (dropout off; the inference attention, if configured, on). Returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>Clears the gradient of every parameter.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>
    /// Moves every parameter to <paramref name="device"/> (new leaf tensors; gradients are dropped). Create the
    /// optimiser after moving the model. Returns this module.
    /// </summary>
    public Module To(Device device) => Convert(p => p.Device == device ? p : p.To(device));

    /// <summary>Converts every parameter to <paramref name="dtype"/> (new leaf tensors). Returns this module.</summary>
    public Module To(DType dtype) => Convert(p => p.DType == dtype ? p : p.To(dtype));

    private Module Convert(Func<Tensor, Tensor> convert)
    {
        using (new NoGrad())
        {
            foreach (var name in parameterOrder)
            {
                var moved = convert(parameters[name]);
                if (ReferenceEquals(moved, parameters[name])) continue;
                parameters[name] = moved.Detach().RequireGrad();
            }
        }
        foreach (var (_, child) in children) child.Convert(convert);
        return this;
    }
}

/// <summary>A module with one tensor in and one tensor out.</summary>
public abstract class Layer : Module
{
    /// <summary>Runs the layer.</summary>
    public abstract Tensor Forward(Tensor input);
}
