using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>Joins tensors along an existing axis; all other dims must match.</summary>
    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("concat: needs at least one tensor");
        var first = tensors[0];
        int a = Shapes.Axis(axis, first.Rank, "concat", first.ShapeSpan);
        int total = 0;
        foreach (var t in tensors)
        {
            SameDevice("concat", first, t);
            SameDType("concat", first, t);
            bool ok = t.Rank == first.Rank;
            for (int d = 0; ok && d < t.Rank; d++) ok = d == a || t.Layout.ShapeArray[d] == first.Layout.ShapeArray[d];
            if (!ok)
                throw new ArgumentException($"concat: shapes {string.Join(", ", tensors.Select(x => Shapes.Format(x.ShapeSpan)))} differ outside axis {a}");
            total += t.Layout.ShapeArray[a];
        }
        var shape = first.Shape;
        shape[a] = total;
        var y = Zeros(shape, first.DType, first.Device);
        int start = 0;
        var sizes = new int[tensors.Count];
        for (int i = 0; i < tensors.Count; i++)
        {
            var t = tensors[i];
            sizes[i] = t.Layout.ShapeArray[a];
            y.Backend.CopyInto(t.Storage, t.Layout, y.Storage, y.Layout.Narrow(a, start, sizes[i]));
            start += sizes[i];
        }
        return Graph.Output(y, "concat", () => new ConcatNode(a, sizes), [.. tensors]);
    }

    /// <summary>Joins tensors of equal shape along a new axis.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int axis = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: needs at least one tensor");
        foreach (var t in tensors)
            if (!Shapes.Equal(t.ShapeSpan, tensors[0].ShapeSpan))
                throw new ArgumentException($"stack: shapes {string.Join(", ", tensors.Select(x => Shapes.Format(x.ShapeSpan)))} must all be equal");
        int a = Shapes.Axis(axis, tensors[0].Rank + 1, "stack", tensors[0].ShapeSpan);
        return Concat(tensors.Select(t => t.Unsqueeze(a)).ToList(), a);
    }

    /// <summary>Splits along an axis into pieces of the given sizes (views).</summary>
    public Tensor[] Split(int[] sizes, int axis = 0)
    {
        int a = Shapes.Axis(axis, Rank, "split", ShapeSpan);
        if (sizes.Any(s => s < 0) || sizes.Sum() != Layout.ShapeArray[a])
            throw new ArgumentException($"split: sizes [{string.Join(", ", sizes)}] do not add up to axis {a} of size {Layout.ShapeArray[a]} (shape {Shapes.Format(ShapeSpan)})");
        var parts = new Tensor[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++) parts[i] = Narrow(a, start, sizes[i]);
        return parts;
    }

    /// <summary>Splits along an axis into <paramref name="chunks"/> equal pieces.</summary>
    public Tensor[] Chunk(int chunks, int axis = 0)
    {
        int a = Shapes.Axis(axis, Rank, "chunk", ShapeSpan);
        if (chunks <= 0 || Layout.ShapeArray[a] % chunks != 0)
            throw new ArgumentException($"chunk: axis {a} of size {Layout.ShapeArray[a]} (shape {Shapes.Format(ShapeSpan)}) does not split into {chunks} equal pieces");
        return Split(Enumerable.Repeat(Layout.ShapeArray[a] / chunks, chunks).ToArray(), a);
    }
}

/// <summary>Each input's gradient is its window of g along the axis.</summary>
internal sealed class ConcatNode(int axis, int[] sizes) : Node
{
    public override string Name => "concat";
    protected internal override Tensor?[] Backward(Tensor g)
    {
        var grads = new Tensor?[sizes.Length];
        for (int i = 0, start = 0; i < sizes.Length; start += sizes[i], i++)
            grads[i] = NeedsGrad(i) ? g.Narrow(axis, start, sizes[i]) : null;
        return grads;
    }
}
