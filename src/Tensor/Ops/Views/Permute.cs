using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Reorders dimensions (a view): result dim i is input dim <paramref name="axes"/>[i].</summary>
    public Tensor Permute(params int[] axes)
    {
        if (axes.Length != Rank)
            throw new ArgumentException($"permute: {axes.Length} axes given for a tensor of rank {Rank} (shape {Shapes.Format(ShapeSpan)})");
        var norm = new int[Rank];
        var seen = new bool[Rank];
        for (int i = 0; i < Rank; i++)
        {
            norm[i] = Shapes.Axis(axes[i], Rank, "permute", ShapeSpan);
            if (seen[norm[i]]) throw new ArgumentException($"permute: axis {norm[i]} repeated in [{string.Join(", ", axes)}] for shape {Shapes.Format(ShapeSpan)}");
            seen[norm[i]] = true;
        }
        var y = new Tensor(Storage, Layout.Permute(norm));
        return Graph.Output(y, "permute", () => new PermuteNode(norm), this);
    }

    /// <summary>Swaps two dimensions (a view).</summary>
    public Tensor Transpose(int axis0, int axis1)
    {
        int a = Shapes.Axis(axis0, Rank, "transpose", ShapeSpan), b = Shapes.Axis(axis1, Rank, "transpose", ShapeSpan);
        var perm = Enumerable.Range(0, Rank).ToArray();
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Permute(perm);
    }

    /// <summary>The transpose of a matrix (swaps the last two dims).</summary>
    public Tensor T => Transpose(-2, -1);
}

/// <summary>The gradient is permuted back with the inverse permutation.</summary>
internal sealed class PermuteNode(int[] axes) : Node
{
    public override string Name => "permute";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var inverse = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++) inverse[axes[i]] = i;
        return [g.Permute(inverse)];
    }
}
