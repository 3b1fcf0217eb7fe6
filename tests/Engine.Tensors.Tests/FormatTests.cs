namespace Engine.Tests;

public class FormatTests
{
    [Fact]
    public void ToStringShowsShapeDTypeAndNumPyStylePreview()
    {
        var x = Tensor.FromArray<float>([1, 2.5f, -3, 4], [2, 2]);
        Assert.Equal("Tensor(shape=[2, 2], dtype=float32)\n[[1, 2.5],\n [-3, 4]]", x.ToString());
        var i = Tensor.FromArray(new[] { 1, 2, 3 });
        Assert.Equal("Tensor(shape=[3], dtype=int32)\n[1, 2, 3]", i.ToString());
        Assert.Equal("Tensor(shape=[], dtype=float64)\n0.5", Tensor.Scalar(0.5, DType.Float64).ToString());
        Assert.Equal("Tensor(shape=[0], dtype=float32)\n[]", Tensor.Zeros([0]).ToString());
    }

    [Fact]
    public void LongDimensionsAreElided()
    {
        var x = Tensor.Arange(10, DType.Float64);
        Assert.Equal("Tensor(shape=[10], dtype=float64)\n[0, 1, 2, ..., 7, 8, 9]", x.ToString());
        var m = Tensor.Arange(80, DType.Float64).Reshape(8, 10);
        var s = m.ToString();
        Assert.Contains("[[0, 1, 2, ..., 7, 8, 9],", s);
        Assert.Contains("...,", s);
        Assert.Contains("[70, 71, 72, ..., 77, 78, 79]]", s);
        Assert.DoesNotContain("[30,", s);
    }

    [Fact]
    public void ToStringNamesGradState()
    {
        var x = Tensor.Ones([1], DType.Float64).RequireGrad();
        x.Name = "w";
        Assert.StartsWith("Tensor(w, shape=[1], dtype=float64, requires_grad)", x.ToString());
        Assert.StartsWith("Tensor(shape=[1], dtype=float64, grad_fn=exp)", x.Exp().ToString());
    }

    [Fact]
    public void ExtremeValuesUseScientificNotationAndSpecialValuesAreNamed()
    {
        var x = Tensor.FromArray(new double[] { 1e-7, 123456789012, double.NaN, double.PositiveInfinity, -0.000123 });
        var s = x.ToString();
        Assert.Contains("1e-07", s);
        Assert.Contains("1.2346e+11", s);
        Assert.Contains("NaN", s);
        Assert.Contains("Infinity", s);
        Assert.Contains("-0.0001", s);
    }
}
