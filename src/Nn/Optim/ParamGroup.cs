namespace Engine.Nn;

/// <summary>
/// A set of named parameters that share hyper-parameters, e.g. "decay" (matrices) and "no decay" (biases, norm
/// weights, embeddings). Names are the module's dotted names; they key the optimiser's state dict.
/// </summary>
public sealed class ParamGroup
{
    /// <summary>A group of parameters with a weight decay and a learning-rate multiplier.</summary>
    public ParamGroup(IEnumerable<(string Name, Tensor Parameter)> parameters, double weightDecay = 0, double lrScale = 1)
    {
        Parameters = parameters.ToArray();
        if (!(weightDecay >= 0) || double.IsInfinity(weightDecay)) throw new ArgumentException($"param group: weight decay must be finite and ≥ 0, got {weightDecay}");
        if (!(lrScale >= 0) || double.IsInfinity(lrScale)) throw new ArgumentException($"param group: lr scale must be finite and ≥ 0, got {lrScale}");
        WeightDecay = weightDecay;
        LrScale = lrScale;
    }

    /// <summary>The parameters with their names.</summary>
    public IReadOnlyList<(string Name, Tensor Parameter)> Parameters { get; }
    /// <summary>Decoupled weight decay (AdamW) or L2 coefficient (SGD) of this group.</summary>
    public double WeightDecay { get; }
    /// <summary>This group's learning rate is the optimiser's times this factor.</summary>
    public double LrScale { get; }

    /// <summary>
    /// The usual split of a model's parameters: matrices (rank ≥ 2) decay; biases and norm weights (rank 1) do not,
    /// and neither do embedding tables (names containing "embedding") unless <paramref name="decayEmbeddings"/>.
    /// </summary>
    public static ParamGroup[] DecayAndNoDecay(Module model, double weightDecay, bool decayEmbeddings = false)
    {
        var decay = new List<(string, Tensor)>();
        var noDecay = new List<(string, Tensor)>();
        foreach (var (name, p) in model.NamedParameters())
        {
            bool isEmbedding = name.Contains("embedding", StringComparison.Ordinal);
            (p.Rank >= 2 && (decayEmbeddings || !isEmbedding) ? decay : noDecay).Add((name, p));
        }
        return [new ParamGroup(decay, weightDecay), new ParamGroup(noDecay, 0)];
    }
}
