using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Rotary position embedding (RoPE), fused: x [..., T, D] (D even) is split into halves (a, b) = (x[..., :D/2],
    /// x[..., D/2:]) and each pair (a_i, b_i) at row t is rotated by the angle whose cosine and sine are
    /// <paramref name="cos"/>[t, i] and <paramref name="sin"/>[t, i] ([T, D/2], see <see cref="RopeTables"/>):
    /// (a·cos − b·sin, a·sin + b·cos). The backward rotates the gradient by the opposite angle.
    /// </summary>
    public static Tensor Rope(Tensor x, Tensor cos, Tensor sin)
    {
        const string op = "rope";
        x.RequireFloat(op);
        if (x.Rank < 2 || x.Dim(-1) % 2 != 0 || x.Dim(-1) == 0)
            throw new ArgumentException($"{op}: input must be [..., time, dim] with an even, non-zero dim, got {Shapes.Format(x.ShapeSpan)}");
        int time = x.Dim(-2), dim = x.Dim(-1);
        foreach (var (table, name) in new[] { (cos, "cos"), (sin, "sin") })
        {
            if (table.Rank != 2 || table.Dim(0) != time || table.Dim(1) != dim / 2)
                throw new ArgumentException($"{op}: the {name} table must be [{time}, {dim / 2}] for input {Shapes.Format(x.ShapeSpan)}, got {Shapes.Format(table.ShapeSpan)}");
            SameDType(op, x, table);
            SameDevice(op, x, table);
        }
        int groups = time == 0 ? 0 : x.Count / (time * dim);
        Tensor c = new(cos.Packed(), cos.ShapeSpan), s = new(sin.Packed(), sin.ShapeSpan);
        var y = new Tensor(x.Backend.Rope(x.Packed(), c.Storage, s.Storage, groups, time, dim, inverse: false), x.ShapeSpan);
        return Graph.Output(y, op, () => new RopeNode(c, s), x);
    }

    /// <summary>
    /// The cos and sin tables of RoPE for positions start … start+count−1 and a head dim <paramref name="dim"/>:
    /// angle[p, i] = (p / s) · base^(−2i/dim) for i &lt; dim/2, computed in double precision for any position;
    /// <paramref name="positionScale"/> s &gt; 1 is position interpolation (s = 1: plain RoPE).
    /// </summary>
    public static (Tensor Cos, Tensor Sin) RopeTables(int start, int count, int dim, double ropeBase = 10000, DType dtype = DType.Float32, Device? device = null, double positionScale = 1)
    {
        if (!(positionScale > 0) || double.IsInfinity(positionScale)) throw new ArgumentException($"rope_tables: position scale must be a finite number > 0, got {positionScale}");
        if (dim <= 0 || dim % 2 != 0) throw new ArgumentException($"rope_tables: dim must be even and positive, got {dim}");
        if (start < 0 || count < 0) throw new ArgumentException($"rope_tables: positions must be non-negative, got start {start}, count {count}");
        if (!(ropeBase > 1) || double.IsInfinity(ropeBase)) throw new ArgumentException($"rope_tables: base must be a finite number > 1, got {ropeBase}");
        int half = dim / 2;
        var cos = new double[count * half];
        var sin = new double[count * half];
        for (int i = 0; i < half; i++)
        {
            double theta = Math.Pow(ropeBase, -2.0 * i / dim);
            for (int p = 0; p < count; p++)
            {
                double angle = (double)(start + p) / positionScale * theta;
                cos[p * half + i] = Math.Cos(angle);
                sin[p * half + i] = Math.Sin(angle);
            }
        }
        return (FromDoubles(cos, [count, half], dtype, device), FromDoubles(sin, [count, half], dtype, device));
    }
}

/// <summary>A rotation's transpose is the rotation by the opposite angle: dx = R(−θ)·g, the same kernel with sin negated.</summary>
internal sealed class RopeNode(Tensor cos, Tensor sin) : Node(cos, sin)
{
    public override string Name => "rope";

    protected internal override Tensor?[] Backward(Tensor g)
    {
        Tensor c = Saved(0), s = Saved(1);
        int time = g.Dim(-2), dim = g.Dim(-1);
        int groups = time == 0 ? 0 : g.Count / (time * dim);
        return [new Tensor(g.Backend.Rope(g.Packed(), c.Storage, s.Storage, groups, time, dim, inverse: true), g.ShapeSpan)];
    }
}

/// <summary>The composed slow reference for <see cref="Tensor.Rope"/>: Narrow, Mul, Sub, Add and Concat.</summary>
public static class RopeReference
{
    /// <summary>(a·cos − b·sin, a·sin + b·cos) with a, b the halves of the last dim; gradients come from autograd.</summary>
    public static Tensor Compute(Tensor x, Tensor cos, Tensor sin)
    {
        int half = x.Dim(-1) / 2;
        var a = x.Narrow(-1, 0, half);
        var b = x.Narrow(-1, half, half);
        return Tensor.Concat([a.Mul(cos).Sub(b.Mul(sin)), a.Mul(sin).Add(b.Mul(cos))], -1);
    }
}
