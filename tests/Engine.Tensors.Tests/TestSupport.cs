using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// Declares that a test runs a gradient check through the given <see cref="Node"/> subclass.
/// <see cref="CoverageGuardTests"/> fails when a Node subclass of Engine.Tensors has no such declaration.
/// Put it on the test method (repeat it for every node the check exercises).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class CoversNodeAttribute(Type node) : Attribute
{
    /// <summary>The node type whose backward the test checks.</summary>
    public Type Node { get; } = node;
}

/// <summary>Scalar references and tensor builders shared by the tests.</summary>
internal static class Ref
{
    public static readonly DType[] FloatTypes = [DType.Float32, DType.Float64];

    public static double Tol(DType t) => t == DType.Float32 ? 2e-5 : 1e-12;

    /// <summary>Deterministic values in [lo, hi).</summary>
    public static double[] Values(int n, ulong seed, double lo = -2, double hi = 2)
    {
        var rng = new Rng(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.NextDouble();
        return v;
    }

    public static int Count(int[] shape) { int n = 1; foreach (int d in shape) n *= d; return n; }

    public static int[] Strides(int[] shape)
    {
        var s = new int[shape.Length];
        for (int d = shape.Length - 1, acc = 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
        return s;
    }

    public static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--) { if (shape[d] == 0) continue; idx[d] = flat % shape[d]; flat /= shape[d]; }
        return idx;
    }

    /// <summary>NumPy broadcasting, computed independently of the engine.</summary>
    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int r = Math.Max(a.Length, b.Length);
        var s = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Length) >= 0 ? a[i - (r - a.Length)] : 1;
            int db = i - (r - b.Length) >= 0 ? b[i - (r - b.Length)] : 1;
            if (da != db && da != 1 && db != 1) throw new InvalidOperationException("not broadcastable");
            s[i] = da == 1 ? db : da;
        }
        return s;
    }

    /// <summary>Element of a row-major array of shape <paramref name="shape"/> read at a broadcast output index.</summary>
    public static double At(double[] v, int[] shape, int[] outIndex)
    {
        int extra = outIndex.Length - shape.Length, flat = 0;
        for (int d = 0; d < shape.Length; d++) flat = flat * shape[d] + (shape[d] == 1 ? 0 : outIndex[d + extra]);
        return v[flat];
    }

    public static double[] Binary(double[] a, int[] sa, double[] b, int[] sb, Func<double, double, double> f, out int[] shape)
    {
        shape = BroadcastShape(sa, sb);
        var y = new double[Count(shape)];
        for (int i = 0; i < y.Length; i++)
        {
            var idx = Unravel(i, shape);
            y[i] = f(At(a, sa, idx), At(b, sb, idx));
        }
        return y;
    }

    /// <summary>Reference reduction: folds every output element's inputs (row-major) with <paramref name="fold"/>.</summary>
    public static double[] Reduce(double[] x, int[] shape, int[] axes, Func<IReadOnlyList<double>, double> fold)
    {
        var outShape = shape.Select((d, i) => axes.Contains(i) ? 1 : d).ToArray();
        var groups = new List<double>[Count(outShape)];
        for (int i = 0; i < groups.Length; i++) groups[i] = [];
        for (int i = 0; i < x.Length; i++)
        {
            var idx = Unravel(i, shape);
            int o = 0;
            for (int d = 0; d < shape.Length; d++) o = o * outShape[d] + (axes.Contains(d) ? 0 : idx[d]);
            groups[o].Add(x[i]);
        }
        return groups.Select(fold).ToArray();
    }

    public static Tensor Make(double[] v, int[] shape, DType dtype) => Tensor.FromDoubles(v, shape, dtype);

    /// <summary>
    /// The same values in four layouts: contiguous, a transposed view of transposed storage, a slice of a larger
    /// tensor (offset and gaps), and (for rank ≥ 1) a permuted-back view of a permuted copy.
    /// </summary>
    public static IEnumerable<(string name, Tensor t)> Layouts(double[] v, int[] shape, DType dtype)
    {
        var c = Make(v, shape, dtype);
        yield return ("contiguous", c);
        if (shape.Length >= 2)
        {
            // Store the transpose, then view it transposed back: values equal, strides swapped.
            var tr = c.Transpose(-1, -2).Contiguous().Transpose(-1, -2);
            yield return ("transposed", tr);
        }
        if (shape.Length >= 1)
        {
            // Embed in a larger tensor along the last axis and narrow back.
            var big = shape.ToArray(); big[^1] = shape[^1] * 2 + 1;
            var bv = new double[Count(big)];
            var t = Make(bv, big, dtype);
            var window = t.Narrow(-1, 1, shape[^1]);
            window.Backend.CopyInto(c.Storage, c.Layout, window.Storage, window.Layout);
            yield return ("sliced", window);
        }
        if (shape.Length >= 3)
        {
            var perm = Enumerable.Range(0, shape.Length).Reverse().ToArray();
            yield return ("permuted", c.Permute(perm).Contiguous().Permute(perm));
        }
    }

    public static void Close(double[] expected, Tensor actual, double tol, string what = "")
    {
        Assert.Equal(expected.Length, actual.Count);
        var a = actual.ToDoubleArray();
        for (int i = 0; i < a.Length; i++)
        {
            double e = expected[i];
            if (double.IsNaN(e)) { Assert.True(double.IsNaN(a[i]), $"{what}: element {i}: expected NaN, got {a[i]}"); continue; }
            if (double.IsInfinity(e)) { Assert.True(e == a[i], $"{what}: element {i}: expected {e}, got {a[i]}"); continue; }
            double err = Math.Abs(a[i] - e);
            Assert.True(err <= tol * Math.Max(1, Math.Abs(e)), $"{what}: element {i}: expected {e:G17}, got {a[i]:G17} (err {err:E2})");
        }
    }

    public static void Close(double[] expected, double[] actual, double tol, string what = "")
        => Close(expected, Tensor.FromArray(actual), tol, what);

    /// <summary>A float64 leaf with distinct elements: contiguous, or a transposed/sliced view (for gradient checks).</summary>
    public static Tensor Leaf(int[] shape, ulong seed, string layout = "contiguous", double lo = -2, double hi = 2)
    {
        var v = Values(Count(shape), seed, lo, hi);
        var t = layout switch
        {
            "contiguous" => Make(v, shape, DType.Float64),
            _ => Layouts(v, shape, DType.Float64).First(x => x.name == layout).t,
        };
        return t.Detach().RequireGrad();
    }
}
