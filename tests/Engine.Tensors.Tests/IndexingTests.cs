namespace Engine.Tests;

public class IndexingTests
{
    private static Tensor Seq(DType dtype, params int[] shape) => Tensor.Arange(Ref.Count(shape), dtype).Reshape(shape);

    [Fact]
    public void IndexSelectPicksSlicesAlongAnyAxisWithAnyIndexShape()
    {
        foreach (var dtype in Ref.FloatTypes)
            foreach (var (_, x) in Ref.Layouts(Seq(DType.Float64, 3, 4, 5).ToDoubleArray(), [3, 4, 5], dtype))
            {
                var idx = Tensor.FromArray(new[] { 3, 0, 3 });
                var y = x.IndexSelect(1, idx);
                Assert.Equal([3, 3, 5], y.Shape);
                for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 5; k++)
                    Assert.Equal(x[i, idx.ToArray<int>()[j], k], y[i, j, k]);
                // A 2-D index (embedding lookup of a [batch, time] token grid) replaces the axis by its shape.
                var grid = Tensor.FromArray(new[] { 2, 1, 0, 2 }, [2, 2]);
                var e = x.IndexSelect(0, grid);
                Assert.Equal([2, 2, 4, 5], e.Shape);
                Assert.Equal(x.Select(0, 0).ToDoubleArray(), e.Select(0, 1).Select(0, 0).ToDoubleArray());
                Assert.Equal(x.Select(0, 2).ToDoubleArray(), e.Select(0, 1).Select(0, 1).ToDoubleArray());
                // A 0-D index removes the axis.
                Assert.Equal([3, 4], x.IndexSelect(2, Tensor.FromArray(new[] { 4 }, [])).Shape);
                // Empty index.
                Assert.Equal([3, 0, 5], x.IndexSelect(1, Tensor.FromArray(Array.Empty<int>())).Shape);
            }
        // Strided index tensor.
        var t = Seq(DType.Float32, 5, 2);
        var strided = Tensor.FromArray(new[] { 4, 9, 1, 9, 0, 9 }, [3, 2]).Select(1, 0);
        Assert.Equal(new float[] { 8, 9, 2, 3, 0, 1 }, t.IndexSelect(0, strided).ToArray<float>());
    }

    [Fact]
    public void GatherAndScatterAddAreAdjointAndMatchReference()
    {
        var x = Seq(DType.Float64, 3, 4);
        var index = Tensor.FromArray(new[] { 3, 0, 1, 1, 2, 2 }, [3, 2]);
        var g = x.Gather(1, index);
        Assert.Equal([3, 2], g.Shape);
        Assert.Equal([3, 0, 5, 5, 10, 10], g.ToDoubleArray());
        var g0 = x.Gather(0, Tensor.FromArray(new[] { 2, 0, 1, 2 }, [1, 4]));
        Assert.Equal([8, 1, 6, 11], g0.ToDoubleArray());
        // Gather on a transposed input.
        var tIdx = Tensor.FromArray(new[] { 3, 0, 1 }, [1, 3]);
        Assert.Equal(x.T.Contiguous().Gather(0, tIdx).ToDoubleArray(), x.T.Gather(0, tIdx).ToDoubleArray());
        Assert.Equal([3, 4, 9], x.T.Gather(0, tIdx).ToDoubleArray());
        foreach (var dtype in Ref.FloatTypes)
        {
            var src = Ref.Make([1, 2, 3, 4, 5, 6], [3, 2], dtype);
            var s = Tensor.ScatterAdd([3, 4], 1, index, src);
            Assert.Equal([3, 4], s.Shape);
            Ref.Close([2, 0, 0, 1, 0, 7, 0, 0, 0, 0, 11, 0], s, 0);
            // Adjointness: <Gather(x), y> = <x, ScatterAdd(y)>.
            var xx = Ref.Make(Ref.Values(12, 3), [3, 4], dtype);
            double lhs = xx.Gather(1, index).Mul(src).Sum().Item();
            double rhs = xx.Mul(s).Sum().Item();
            Assert.Equal(lhs, rhs, dtype == DType.Float32 ? 1e-4 : 1e-12);
        }
    }

    [Fact]
    public void ConcatStackSplitAgreeWithReference()
    {
        foreach (var dtype in Ref.FloatTypes)
        {
            var a = Seq(dtype, 2, 3); var b = Seq(dtype, 2, 1).AddScalar(100); var c = Tensor.Zeros([2, 0], dtype);
            var cat = Tensor.Concat([a, b, c, a.T.Contiguous().T], 1);
            Assert.Equal([2, 7], cat.Shape);
            Assert.Equal([0, 1, 2, 100, 0, 1, 2, 3, 4, 5, 101, 3, 4, 5], cat.ToDoubleArray());
            var cat0 = Tensor.Concat([a, a.MulScalar(2)], -2);
            Assert.Equal([4, 3], cat0.Shape);
            Assert.Equal(a.MulScalar(2).ToDoubleArray(), cat0.Narrow(0, 2, 2).ToDoubleArray());
            var st = Tensor.Stack([a, a.AddScalar(1)], 1);
            Assert.Equal([2, 2, 3], st.Shape);
            Assert.Equal(a.AddScalar(1).ToDoubleArray(), st.Select(1, 1).ToDoubleArray());
            Assert.Equal([2, 3, 2], Tensor.Stack([a, a], -1).Shape);
            var parts = cat.Split([3, 1, 0, 3], 1);
            Assert.Equal(a.ToDoubleArray(), parts[0].ToDoubleArray());
            Assert.Equal(b.ToDoubleArray(), parts[1].ToDoubleArray());
            Assert.Equal([2, 0], parts[2].Shape);
            Assert.Equal(a.ToDoubleArray(), parts[3].ToDoubleArray());
            Assert.Equal([0, 3], Tensor.Concat([Tensor.Zeros([0, 3], dtype), Tensor.Zeros([0, 3], dtype)]).Shape);
        }
    }

    [Fact]
    public void IndexSelectGradientAccumulatesRepeatedIndices()
    {
        var table = Tensor.FromArray<double>(Ref.Values(8, 1), [4, 2]).RequireGrad();
        var ids = Tensor.FromArray(new[] { 1, 3, 1, 1 }, [2, 2]);
        table.IndexSelect(0, ids).Sum().Backward();
        Assert.Equal([0, 0, 3, 3, 0, 0, 1, 1], table.Grad!.ToDoubleArray());
    }
}
