namespace Engine.Nn;

/// <summary>
/// Rotary position embedding (RoPE) for heads of width <see cref="HeadDim"/>: rotates query and key features by
/// position-dependent angles so that q·k depends only on the distance between positions. Works for any position:
/// the cos/sin tables are computed from absolute positions (in double precision) and grown on demand, so a model
/// runs at lengths it never saw in training. No parameters. Thread-safe: concurrent forwards may grow the tables.
/// </summary>
public sealed class RotaryEmbedding : Module
{
    // One reference, swapped whole, so a concurrent forward never pairs a new cos with an old sin.
    private (Tensor Cos, Tensor Sin)? tables;

    /// <summary>RoPE for a head dim (even) and a base (10000 in most models); positions are divided by <paramref name="positionScale"/> (interpolation; 1 = none).</summary>
    public RotaryEmbedding(int headDim, double ropeBase = 10000, double positionScale = 1)
    {
        if (!(positionScale > 0) || double.IsInfinity(positionScale)) throw new ArgumentException($"rotary_embedding: position scale must be a finite number > 0, got {positionScale}");
        if (headDim <= 0 || headDim % 2 != 0) throw new ArgumentException($"rotary_embedding: head dim must be even and positive, got {headDim}");
        if (!(ropeBase > 1) || double.IsInfinity(ropeBase)) throw new ArgumentException($"rotary_embedding: base must be a finite number > 1, got {ropeBase}");
        HeadDim = headDim;
        Base = ropeBase;
        PositionScale = positionScale;
    }

    /// <summary>Positions are divided by this factor before the rotation (position interpolation; 1 = plain RoPE).</summary>
    public double PositionScale { get; }

    /// <summary>The rotated feature width.</summary>
    public int HeadDim { get; }
    /// <summary>The frequency base: feature pair i turns by base^(−2i/HeadDim) per position.</summary>
    public double Base { get; }

    /// <summary>Rotates x [..., T, HeadDim] whose rows sit at positions offset, …, offset + T − 1.</summary>
    public Tensor Forward(Tensor x, int positionOffset = 0)
    {
        if (x.Rank < 2 || x.Dim(-1) != HeadDim)
            throw new ArgumentException($"rotary_embedding: input {Shapes.Format(x.Shape)} must be [..., time, {HeadDim}]");
        if (positionOffset < 0) throw new ArgumentException($"rotary_embedding: position offset must be ≥ 0, got {positionOffset}");
        int time = x.Dim(-2);
        var (cos, sin) = Tables(positionOffset + time, x.DType, x.Device);
        return Tensor.Rope(x, cos.Narrow(0, positionOffset, time), sin.Narrow(0, positionOffset, time));
    }

    /// <summary>The cos and sin tables [capacity, HeadDim/2] for positions 0 … at least <paramref name="needed"/> − 1, grown if needed.</summary>
    internal (Tensor Cos, Tensor Sin) Tables(int needed, DType dtype, Device device)
    {
        var t = tables;
        if (t is not { } current || current.Cos.Dim(0) < needed || current.Cos.DType != dtype || current.Cos.Device != device)
        {
            int capacity = Math.Max(needed, t is { } old ? Math.Min(int.MaxValue / 2, old.Cos.Dim(0)) * 2 : 0);
            // A cache outlives the step that fills it: no StorageScope may free it.
            using (StorageScope.Suspend()) tables = t = Tensor.RopeTables(0, capacity, HeadDim, Base, dtype, device, PositionScale);
        }
        return t.Value;
    }
}
