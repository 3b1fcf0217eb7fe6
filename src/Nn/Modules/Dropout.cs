namespace Engine.Nn;

/// <summary>
/// Inverted dropout: in training mode each element is zeroed with probability p and the rest scaled by 1/(1 − p);
/// in eval mode (or p = 0) the input passes through. The mask comes from a seeded <see cref="Rng"/> (shared by the
/// model so one state can be checkpointed), so runs are reproducible.
/// </summary>
public sealed class Dropout : Layer
{
    private readonly Rng rng;

    /// <summary>A dropout layer with probability <paramref name="p"/> in [0, 1).</summary>
    public Dropout(double p, Rng rng)
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentException($"dropout: probability must be in [0, 1), got {p}");
        P = p;
        this.rng = rng;
    }

    /// <summary>The drop probability.</summary>
    public double P { get; }

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => Forward(input, Training);

    /// <summary>Applies dropout when <paramref name="training"/>, whatever <see cref="Module.Training"/> says (eval passes through and reads no state).</summary>
    public Tensor Forward(Tensor input, bool training)
    {
        if (!training || P == 0) return input;
        return input.Mul(input.DType == DType.Float32 ? Mask<float>(input) : Mask<double>(input));
    }

    /// <summary>1/(1 − p) where an element is kept, 0 where it is dropped, drawn in row-major order.</summary>
    private Tensor Mask<T>(Tensor like) where T : unmanaged, System.Numerics.IFloatingPoint<T>
    {
        var mask = new T[like.Count];
        T keep = T.CreateChecked(1 / (1 - P));
        for (int i = 0; i < mask.Length; i++) mask[i] = rng.NextDouble() >= P ? keep : T.Zero;
        return Tensor.FromArray<T>(mask, like.Shape, like.Device);
    }
}
