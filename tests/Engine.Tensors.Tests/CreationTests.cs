namespace Engine.Tests;

public class CreationTests
{
    [Fact]
    public void FromArrayCopiesAndKeepsShape()
    {
        var data = new float[] { 1, 2, 3, 4, 5, 6 };
        var t = Tensor.FromArray<float>(data, [2, 3]);
        data[0] = 99;
        Assert.Equal([2, 3], t.Shape);
        Assert.Equal(DType.Float32, t.DType);
        Assert.Equal(Device.Cpu, t.Device);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<float>());
        Assert.Equal(6, t[1, 2]);
        var m = Tensor.FromArray(new double[,] { { 1, 2 }, { 3, 4 }, { 5, 6 } });
        Assert.Equal([3, 2], m.Shape);
        Assert.Equal(DType.Float64, m.DType);
        Assert.Equal(4, m[1, 1]);
        var i = Tensor.FromArray(new[] { 7, 8 });
        Assert.Equal(DType.Int32, i.DType);
        Assert.Equal([7.0, 8.0], i.ToDoubleArray());
        Assert.Equal(2.5, Tensor.Scalar(2.5, DType.Float64).Item());
        Assert.Equal([], Tensor.Scalar(1).Shape);
        Assert.Equal(1, Tensor.Scalar(1).Count);
    }

    [Fact]
    public void FilledTensorsAndArange()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            Assert.All(Tensor.Zeros([2, 3], dtype).ToDoubleArray(), v => Assert.Equal(0, v));
            Assert.All(Tensor.Ones([4], dtype).ToDoubleArray(), v => Assert.Equal(1, v));
            Assert.All(Tensor.Full([3, 1], 7, dtype).ToDoubleArray(), v => Assert.Equal(7, v));
            Assert.Equal(dtype, Tensor.Full([1], 7, dtype).DType);
            Assert.Equal([0, 1, 2, 3], Tensor.Arange(4, dtype).ToDoubleArray());
        }
        var like = Tensor.Ones([2, 2], DType.Float64);
        Assert.Equal(DType.Float64, Tensor.ZerosLike(like).DType);
        Assert.Equal([2, 2], Tensor.OnesLike(like).Shape);
        Assert.Equal([0.5, 1.0, 1.5], Tensor.Arange(0.5, 2, 0.5, DType.Float64).ToDoubleArray());
        Assert.Equal([3, 1, -1], Tensor.Arange(3, -2, -2, DType.Float64).ToDoubleArray());
        Assert.Equal([0], Tensor.Arange(5, 1).Shape);
        Assert.Equal([0, 4], Tensor.Zeros([0, 4]).Shape);
        Assert.Empty(Tensor.Ones([3, 0]).ToArray<float>());
    }

    [Fact]
    public void CastConvertsAndTruncates()
    {
        var x = Tensor.FromArray(new double[] { 1.5, -2.7, 3 });
        Assert.Same(x, x.To(DType.Float64));
        Assert.Equal(new float[] { 1.5f, -2.7f, 3 }, x.To(DType.Float32).ToArray<float>());
        Assert.Equal(new[] { 1, -2, 3 }, x.To(DType.Int32).ToArray<int>());
        Assert.Equal(new double[] { 1, -2, 3 }, x.To(DType.Int32).To(DType.Float64).ToArray<double>());
        Ref.Close([1.5, -2.7], x.Narrow(0, 0, 2).To(DType.Float32).To(DType.Float64), 1e-7);
        Assert.Same(x, x.To(Device.Cpu));
    }

    [Fact]
    public void HostAccessReadsViewsInRowMajorOrder()
    {
        var x = Tensor.Arange(6, DType.Float64).Reshape(2, 3);
        Assert.Equal([0, 3, 1, 4, 2, 5], x.T.ToArray<double>());
        Assert.Equal(5, x.T[2, 1]);
        Assert.Equal(4, x.Narrow(1, 1, 2)[1, 0]);
        Assert.Equal(4, x.Select(0, 1).Select(0, 1).Item());
        var ex = Assert.Throws<InvalidOperationException>(() => x.ToArray<float>());
        Assert.Contains("float64", ex.Message);
        Assert.Contains("double", ex.Message);
        Assert.Throws<InvalidOperationException>(() => x.Item());
    }

    [Fact]
    public void DetachSharesDataButNotTheGraph()
    {
        var x = Tensor.Ones([2], DType.Float64).RequireGrad();
        var y = x.MulScalar(3);
        var d = y.Detach();
        Assert.Same(y.Storage, d.Storage);
        Assert.False(d.RequiresGrad);
        Assert.Null(d.GradFn);
        Assert.True(d.IsLeaf);
        Assert.False(d.MulScalar(2).RequiresGrad);
    }
}
