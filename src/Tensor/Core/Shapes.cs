namespace Engine;

/// <summary>Shape arithmetic shared by every op: counts, axis normalisation, broadcasting, formatting.</summary>
public static class Shapes
{
    /// <summary>Number of elements of a shape; throws on negative dims or overflow.</summary>
    public static int Count(ReadOnlySpan<int> shape, string op = "shape")
    {
        long n = 1;
        foreach (int d in shape)
        {
            if (d < 0) throw new ArgumentException($"{op}: negative dimension in shape {Format(shape)}");
            n *= d;
            if (n > int.MaxValue) throw new ArgumentException($"{op}: shape {Format(shape)} has more than {int.MaxValue} elements");
        }
        return (int)n;
    }

    /// <summary>Row-major strides of a shape.</summary>
    public static int[] ContiguousStrides(ReadOnlySpan<int> shape)
    {
        var s = new int[shape.Length];
        int acc = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { s[d] = acc; acc *= Math.Max(shape[d], 1); }
        return s;
    }

    /// <summary>Turns a possibly negative axis into 0..rank-1, or throws naming the op and shape.</summary>
    public static int Axis(int axis, int rank, string op, ReadOnlySpan<int> shape)
    {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"{op}: axis {axis} is out of range for shape {Format(shape)} (rank {rank})");
        return a;
    }

    /// <summary>NumPy broadcasting of two shapes, or an exception naming the op and both shapes.</summary>
    public static int[] Broadcast(ReadOnlySpan<int> a, ReadOnlySpan<int> b, string op)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Format(a)} and {Format(b)} cannot be broadcast (dimension {i}: {da} vs {db})");
            r[i] = da == 1 ? db : da;
        }
        return r;
    }

    /// <summary>True when the shapes are equal.</summary>
    public static bool Equal(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.SequenceEqual(b);

    /// <summary>Formats a shape as [2, 3].</summary>
    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
