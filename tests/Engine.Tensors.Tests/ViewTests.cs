using CsCheck;

namespace Engine.Tests;

public class ViewTests
{
    private static Tensor Seq(params int[] shape) => Tensor.Arange(Ref.Count(shape), DType.Float64).Reshape(shape);

    [Fact]
    public void LargeStridedViewsMadeContiguousOnEveryThreadCountReadTheRightElements()
    {
        // Past the size at which the rows of a view are gathered by all threads: rows with contiguous elements (a
        // head-split permute) and with strided ones (a transpose of the last two axes), float32 as in training.
        int saved = EngineThreads.Count;
        try
        {
            var x = Tensor.Arange(64 * 40 * 3 * 33, DType.Float32).Reshape(64, 40, 3, 33);
            // x's element (a, b, c, d) is its flat index ((a·40 + b)·3 + c)·33 + d
            var cases = new (Tensor View, Func<int, int, int, int, int> Source)[]
            {
                (x.Permute(2, 0, 1, 3), (a, b, c, d) => ((b * 40 + c) * 3 + a) * 33 + d),
                (x.Transpose(2, 3), (a, b, c, d) => ((a * 40 + b) * 3 + d) * 33 + c),
            };
            foreach (var (view, source) in cases)
            {
                int[] s = view.Shape;
                var want = new double[view.Count];
                int i = 0;
                for (int a = 0; a < s[0]; a++)
                    for (int b = 0; b < s[1]; b++)
                        for (int c = 0; c < s[2]; c++)
                            for (int d = 0; d < s[3]; d++) want[i++] = source(a, b, c, d);
                foreach (int threads in new[] { 1, 2, 3 })
                {
                    EngineThreads.Count = threads;
                    Assert.Equal(want, view.Contiguous().ToDoubleArray());
                }
            }
        }
        finally { EngineThreads.Count = saved; }
    }

    [Fact]
    public void ALargePooledZerosArrayIsZeroEvenWhenItsLastUseWasNot()
    {
        // 1 M floats, cleared in shares by all threads when it comes back from the pool.
        int n = 1 << 20;
        using (StorageScope.Begin()) _ = Tensor.Full([n], 3);   // a pooled array of that length, dirty when it goes back
        using (StorageScope.Begin())
        {
            var z = Tensor.Zeros([n]);
            Assert.All(z.ToArray<float>(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void ViewsShareStorageAndReadTheRightElements()
    {
        var x = Seq(2, 3, 4);
        var t = x.Transpose(0, 2);
        Assert.Same(x.Storage, t.Storage);
        Assert.Equal([4, 3, 2], t.Shape);
        Assert.Equal([1, 4, 12], t.Layout.Strides);
        Assert.Equal(x[1, 2, 3], t[3, 2, 1]);
        var p = x.Permute(1, 2, 0);
        Assert.Equal([3, 4, 2], p.Shape);
        Assert.Equal(x[1, 0, 3], p[0, 3, 1]);
        var n = x.Narrow(2, 1, 2);
        Assert.Same(x.Storage, n.Storage);
        Assert.Equal(1, n.Layout.Offset);
        Assert.Equal([1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22], n.ToDoubleArray());
        var s = x.Select(1, -1);
        Assert.Equal([2, 4], s.Shape);
        Assert.Equal([8, 9, 10, 11, 20, 21, 22, 23], s.ToDoubleArray());
        Assert.Equal([4, 5, 6, 7, 16, 17, 18, 19], x.Slice(1, 1, -1).ToDoubleArray());
        Assert.Equal([2, 0, 4], x.Slice(1, 5, 9).Shape);
        Assert.Equal([0, 1, 2, 3], x.Slice(1, -10, 1).Select(0, 0).ToDoubleArray());
        var e = Tensor.FromArray(new double[] { 1, 2, 3 }).Expand(2, 3);
        Assert.Equal([0, 1], e.Layout.Strides);
        Assert.Equal([1, 2, 3, 1, 2, 3], e.ToDoubleArray());
        var u = x.Unsqueeze(0).Unsqueeze(-1);
        Assert.Equal([1, 2, 3, 4, 1], u.Shape);
        Assert.Same(x.Storage, u.Storage);
        Assert.Equal([2, 3, 4], u.Squeeze().Shape);
        Assert.Equal([2, 3, 4, 1], u.Squeeze(0).Shape);
        Assert.Equal([3, 2], Seq(2, 3).T.Shape);
        Assert.Equal([24], x.Flatten().Shape);
        Assert.Equal([6, 4], x.Reshape(-1, 4).Shape);
        Assert.Same(x.Storage, x.View(4, 6).Storage);
    }

    [Fact]
    public void ReshapeIsAViewWhenStridesAllowItAndACopyOtherwise()
    {
        var x = Seq(4, 6);
        var narrowRows = x.Narrow(0, 1, 2);            // [2, 6] contiguous rows at an offset
        Assert.Same(x.Storage, narrowRows.Reshape(3, 4).Storage);
        var narrowCols = x.Narrow(1, 0, 3);            // [4, 3] with row stride 6
        var split = narrowCols.Reshape(2, 2, 3);       // splitting the outer dim keeps a view
        Assert.Same(x.Storage, split.Storage);
        Assert.Equal(narrowCols.ToDoubleArray(), split.ToDoubleArray());
        var merged = narrowCols.Reshape(12);           // merging rows with gaps needs a copy
        Assert.NotSame(x.Storage, merged.Storage);
        Assert.Equal(narrowCols.ToDoubleArray(), merged.ToDoubleArray());
        var t = x.T;                                   // [6, 4] transposed
        Assert.Same(x.Storage, t.Reshape(6, 1, 4).Storage);
        Assert.Same(x.Storage, t.Reshape(3, 2, 4).Storage);
        Assert.Equal(t.ToDoubleArray(), t.Reshape(24).ToDoubleArray());
        Assert.Throws<InvalidOperationException>(() => t.View(24));
        Assert.Equal(t.ToDoubleArray(), t.Contiguous().View(24).ToDoubleArray());
    }

    [Fact]
    public void ContiguousAndCloneCopyOnlyWhenNeeded()
    {
        var x = Seq(3, 4);
        Assert.Same(x, x.Contiguous());
        var c = x.Clone();
        Assert.NotSame(x.Storage, c.Storage);
        Assert.Equal(x.ToDoubleArray(), c.ToDoubleArray());
        var t = x.T.Contiguous();
        Assert.True(t.IsContiguous);
        Assert.Equal(x.T.ToDoubleArray(), t.ToDoubleArray());
        var n = x.Narrow(0, 1, 1);                      // contiguous but at an offset: compacted
        Assert.NotSame(x.Storage, n.Contiguous().Storage);
        Assert.Equal(0, n.Contiguous().Layout.Offset);
    }

    [Fact]
    public void EmptyViews()
    {
        var x = Tensor.Zeros([2, 0, 3], DType.Float64);
        Assert.Equal([3, 0, 2], x.Permute(2, 1, 0).Shape);
        Assert.Equal([0, 6], x.Transpose(0, 1).Reshape(0, 6).Shape);
        Assert.Equal([2, 0, 3], x.Reshape(2, -1, 3).Shape);
        Assert.Equal([2, 0, 1], x.Narrow(2, 1, 1).Shape);
        Assert.Empty(x.Narrow(2, 2, 1).Contiguous().ToDoubleArray());
        Assert.Equal([4, 2, 0, 3], x.Expand(4, 2, 0, 3).Shape);
        Assert.Equal([5, 0], Seq(5, 3).Narrow(1, 3, 0).Shape);
        Assert.Empty(Seq(5, 3).Narrow(1, 3, 0).ToDoubleArray());
        Assert.Empty(Tensor.Zeros([0]).ToArray<float>());
    }

    [Fact]
    public void SplitChunkAreViewsThatReassemble()
    {
        var x = Seq(4, 6);
        var parts = x.Split([1, 3, 2], 1);
        Assert.Equal([4, 1], parts[0].Shape);
        Assert.Equal([4, 3], parts[1].Shape);
        Assert.All(parts, p => Assert.Same(x.Storage, p.Storage));
        Assert.Equal(x.ToDoubleArray(), Tensor.Concat(parts, 1).ToDoubleArray());
        var chunks = x.Chunk(2, 0);
        Assert.Equal(x.ToDoubleArray(), Tensor.Concat(chunks, 0).ToDoubleArray());
        Assert.Equal([4, 0], x.Split([0, 6], 1)[0].Shape);
    }

    private static readonly Gen<int[]> Shapes3 = Gen.Int[1, 4].Array[1, 4];

    [Fact]
    public void PermuteRoundTripsAndMatchesReferenceOnRandomShapes()
    {
        Gen.Select(Shapes3, Gen.ULong).Sample((shape, seed) =>
        {
            var rng = new Rng(seed);
            var perm = Enumerable.Range(0, shape.Length).OrderBy(_ => rng.NextDouble()).ToArray();
            var x = Seq(shape);
            var p = x.Permute(perm);
            var inverse = new int[perm.Length];
            for (int i = 0; i < perm.Length; i++) inverse[perm[i]] = i;
            Assert.Equal(x.ToDoubleArray(), p.Permute(inverse).ToDoubleArray());
            // Reference: element at permuted index.
            var pv = p.ToDoubleArray(); var pShape = p.Shape;
            for (int i = 0; i < pv.Length; i++)
            {
                var pi = Ref.Unravel(i, pShape);
                var xi = new int[shape.Length];
                for (int d = 0; d < perm.Length; d++) xi[perm[d]] = pi[d];
                Assert.Equal(x[xi], pv[i]);
            }
            // A contiguous copy behaves exactly like the view.
            Assert.Equal(pv, p.Contiguous().ToDoubleArray());
            Assert.Equal(pv, p.Clone().ToDoubleArray());
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void ReshapeOfAnyViewEqualsReshapeOfItsContiguousCopy()
    {
        // Property: build a random view (permute, then narrow), reshape it to a random factorisation of its count;
        // the result equals the reshape of a contiguous copy, and is a view whenever Layout allows.
        Gen.Select(Shapes3, Gen.ULong).Sample((shape, seed) =>
        {
            var rng = new Rng(seed);
            var perm = Enumerable.Range(0, shape.Length).OrderBy(_ => rng.NextDouble()).ToArray();
            var big = shape.Select(d => d + rng.NextInt(2)).ToArray();
            var x = Seq(big).Permute(perm);
            for (int d = 0; d < x.Rank; d++)
            {
                int want = shape[perm[d]];
                x = x.Narrow(d, rng.NextInt(x.Dim(d) - want + 1), want);
            }
            int n = x.Count;
            var target = new List<int>();
            int rest = n;
            while (rest > 1)
            {
                var divisors = Enumerable.Range(2, rest - 1).Where(k => rest % k == 0).ToArray();
                int f = divisors[rng.NextInt(divisors.Length)];
                target.Add(f); rest /= f;
                if (rng.NextInt(3) == 0) target.Add(1);
            }
            if (target.Count == 0) target.Add(1);
            var reshaped = x.Reshape([.. target]);
            var copy = x.Contiguous().Reshape([.. target]);
            Assert.Equal(copy.Shape, reshaped.Shape);
            Assert.Equal(copy.ToDoubleArray(), reshaped.ToDoubleArray());
            Assert.Equal(x.ToDoubleArray(), reshaped.Reshape(x.Shape).ToDoubleArray());
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void ExpandAndNarrowMatchTheirContiguousCopiesOnRandomShapes()
    {
        Gen.Select(Shapes3, Gen.ULong).Sample((shape, seed) =>
        {
            var rng = new Rng(seed);
            // Expand: size-1 dims (and a new leading dim) become larger.
            var small = shape.Select(d => rng.NextInt(2) == 0 ? 1 : d).ToArray();
            var x = Seq(small);
            int[] target = [2, .. shape.Select((d, i) => small[i] == 1 ? d : small[i])];
            var e = x.Expand(target);
            var ev = e.ToDoubleArray();
            for (int i = 0; i < ev.Length; i++) Assert.Equal(Ref.At(x.ToDoubleArray(), small, Ref.Unravel(i, target)), ev[i]);
            Assert.Equal(ev, e.Contiguous().ToDoubleArray());
            // Binary op on the expanded view equals the op on its copy.
            Assert.Equal(e.Mul(e).ToDoubleArray(), e.Contiguous().Mul(e.Contiguous()).ToDoubleArray());
            // Narrow on each axis equals the reference slice.
            var full = Seq(shape);
            int axis = rng.NextInt(shape.Length), start = rng.NextInt(shape[axis]), len = rng.NextInt(shape[axis] - start + 1);
            var nv = full.Narrow(axis, start, len);
            var nShape = nv.Shape;
            var vals = nv.ToDoubleArray();
            for (int i = 0; i < vals.Length; i++)
            {
                var idx = Ref.Unravel(i, nShape); idx[axis] += start;
                Assert.Equal(full[idx], vals[i]);
            }
            Assert.Equal(vals, nv.Contiguous().ToDoubleArray());
        }, iter: 150, threads: 1);
    }

    [Fact]
    public void DenseMeansTheWholeStorageFromItsFirstElement()
    {
        var t = Tensor.FromArray<float>([1, 2, 3, 4], [4]);
        Assert.True(t.IsDense);
        var prefix = t.Narrow(0, 0, 2);        // contiguous, offset 0, but only half the storage
        Assert.True(prefix.IsContiguous);
        Assert.False(prefix.IsDense);
        var copy = prefix.Contiguous();
        Assert.True(copy.IsDense);
        Assert.Equal([1f, 2f], copy.ToArray<float>());
        Assert.False(t.Narrow(0, 1, 3).IsDense);
        Assert.False(Tensor.FromArray<float>([1, 2, 3, 4], [2, 2]).T.IsDense);
        // A gradient accumulated into a leaf through a prefix view stays correct.
        var x = Tensor.FromArray<double>([1, 2, 3, 4], [4]).RequireGrad();
        x.Narrow(0, 0, 2).Sum().Backward();
        x.Narrow(0, 0, 2).MulScalar(2).Sum().Backward();
        Assert.Equal([3.0, 3.0, 0.0, 0.0], x.Grad!.ToDoubleArray());
    }

    [Fact]
    public void CopyIntoAWindowReadsAStridedSourceInPlace()
    {
        // Strided sources (a head split of a fused projection, a transposed matrix, a single element) into windows
        // of larger buffers, one of them strided in its last dimension: every element lands where the view says.
        var cpu = Engine.Cpu.CpuBackend.Instance;
        foreach (var (source, at) in new (Tensor, int)[]
        {
            (Seq(2, 1, 3, 4, 5).Permute(2, 0, 3, 1, 4).Select(0, 1), 3),   // [2, 4, 1, 5], row stride 60
            (Seq(3, 6).T.Narrow(0, 1, 4).Unsqueeze(0).Unsqueeze(0), 0),    // [1, 1, 4, 3], last stride 6
            (Seq(4, 3).Select(1, 2).Unsqueeze(0).Unsqueeze(0).Unsqueeze(-1), 2),   // [1, 1, 4, 1]
        })
        {
            int[] shape = source.Shape;
            int[] big = [shape[0], shape[1], at + shape[2] + 2, shape[3]];
            var buffer = Tensor.Full(big, -1.0, DType.Float64);
            var window = buffer.Narrow(2, at, shape[2]);
            cpu.CopyInto(source.Storage, source.Layout, window.Storage, window.Layout);
            Assert.Equal(source.ToDoubleArray(), window.ToDoubleArray());
            Assert.Equal(buffer.Count - source.Count, buffer.ToDoubleArray().Count(v => v == -1.0));
            // The same into a destination whose last dimension is strided.
            var wide = Tensor.Full([shape[0], shape[1], shape[2], 2 * shape[3]], -1.0, DType.Float64);
            var every2nd = new Layout(shape, [wide.Layout.Strides[0], wide.Layout.Strides[1], wide.Layout.Strides[2], 2], 0);
            cpu.CopyInto(source.Storage, source.Layout, wide.Storage, every2nd);
            Assert.Equal(source.ToDoubleArray(), new Tensor(wide.Storage, every2nd).ToDoubleArray());
        }
    }
}
