namespace Engine.Tests;

/// <summary>Every bad input throws an ArgumentException (or a subclass) whose message names the op, the shapes and the axis.</summary>
public class ValidationTests
{
    private static readonly Tensor A = Tensor.Zeros([2, 3]);
    private static readonly Tensor B = Tensor.Zeros([4, 5]);
    private static readonly Tensor I = Tensor.FromArray(new[] { 0, 1 });

    public record Case(string Name, Action Act, string[] Fragments, Type? Exception = null)
    {
        public override string ToString() => Name;
    }

    private static Case C(string name, Action act, params string[] fragments) => new(name, act, fragments);

    private static readonly Case[] Cases =
    [
        // creation
        C("from_array count", () => Tensor.FromArray<float>(new float[5], [2, 3]), "from_array", "5 values", "[2, 3]"),
        C("zeros negative", () => Tensor.Zeros([2, -1]), "zeros", "negative", "[2, -1]"),
        C("full negative", () => Tensor.Full([-3], 1), "full", "[-3]"),
        C("randn negative", () => Tensor.RandN([-1], 1), "randn", "[-1]"),
        C("arange step", () => Tensor.Arange(0, 1, 0), "arange", "step"),
        // elementwise
        C("add broadcast", () => A.Add(B), "add", "[2, 3]", "[4, 5]", "dimension"),
        C("mul broadcast", () => A.Mul(Tensor.Zeros([3, 1, 2])), "mul", "[2, 3]", "[3, 1, 2]"),
        C("maximum broadcast", () => A.Maximum(B), "maximum", "[2, 3]", "[4, 5]"),
        C("div dtype", () => A.Div(Tensor.Zeros([2, 3], DType.Float64)), "div", "float32", "float64", "[2, 3]"),
        C("sub int", () => I.Sub(I), "sub", "int32", "[2]"),
        C("exp int", () => I.Exp(), "exp", "int32", "[2]"),
        C("gelu int", () => I.Gelu(), "gelu", "int32"),
        C("where broadcast", () => Tensor.Where(Tensor.Zeros([4]), A, A), "where", "[4]", "[2, 3]"),
        C("where dtype", () => Tensor.Where(A, A, A.To(DType.Float64)), "where", "float32", "float64"),
        C("eq broadcast", () => A.Eq(B), "eq", "[2, 3]", "[4, 5]"),
        C("masked_fill broadcast", () => A.MaskedFill(Tensor.Zeros([2]), 0), "where", "[2]", "[2, 3]"),
        C("device mix", () => A.Add(Tensor.Zeros([2, 3], device: MirrorBackend.Get())), "add", "different devices (cpu and cuda:63)", "[2, 3]"),
        // views
        C("reshape count", () => A.Reshape(4, 2), "reshape", "[4, 2]", "[2, 3]", "6"),
        C("reshape two -1", () => A.Reshape(-1, -1), "reshape", "-1"),
        C("reshape infer", () => A.Reshape(-1, 4), "reshape", "[-1, 4]", "[2, 3]"),
        C("reshape negative", () => A.Reshape(-2, 3), "reshape", "-2"),
        C("view copy", () => A.T.View(6), "view", "[6]", "shape [3, 2]"),
        C("permute count", () => A.Permute(0), "permute", "rank 2", "[2, 3]"),
        C("permute repeat", () => A.Permute(1, 1), "permute", "axis 1", "[2, 3]"),
        C("permute axis", () => A.Permute(0, 2), "permute", "axis 2", "[2, 3]"),
        C("transpose axis", () => A.Transpose(0, 3), "transpose", "axis 3", "[2, 3]"),
        C("T of vector", () => _ = I.To(DType.Float32).T, "transpose", "axis -2", "[2]"),
        C("narrow range", () => A.Narrow(1, 2, 2), "narrow", "[2, 4)", "axis 1", "size 3", "[2, 3]"),
        C("narrow axis", () => A.Narrow(2, 0, 1), "narrow", "axis 2", "[2, 3]"),
        C("select index", () => A.Select(0, 2), "select", "index 2", "axis 0", "size 2", "[2, 3]"),
        C("slice axis", () => A.Slice(-3, 0, 1), "slice", "axis -3", "[2, 3]"),
        C("squeeze size", () => A.Squeeze(1), "squeeze", "axis 1", "[2, 3]", "size 3"),
        C("unsqueeze axis", () => A.Unsqueeze(4), "unsqueeze", "axis 4", "[2, 3]"),
        C("expand", () => A.Expand(4, 3), "expand", "[2, 3]", "[4, 3]"),
        C("expand rank", () => A.Expand(3), "expand", "[2, 3]", "[3]"),
        C("dim", () => A.Dim(2), "dim", "axis 2", "[2, 3]"),
        C("indexer rank", () => _ = A[0], "indexer", "rank 2", "[2, 3]"),
        C("indexer range", () => _ = A[0, 3], "indexer", "index 3", "axis 1", "[2, 3]"),
        C("item", () => A.Item(), "item", "[2, 3]"),
        // reductions
        C("sum axis", () => A.Sum(2), "sum", "axis 2", "[2, 3]"),
        C("sum repeat", () => A.Sum([1, -1]), "sum", "axis 1", "twice", "[2, 3]"),
        C("mean axis", () => A.Mean(-3), "mean", "axis -3", "[2, 3]"),
        C("mean empty", () => Tensor.Zeros([2, 0]).Mean(1), "mean", "[2, 0]", "zero elements"),
        C("max empty", () => Tensor.Zeros([2, 0]).Max(1), "max", "axis 1", "[2, 0]", "empty"),
        C("min axis", () => A.Min(5), "min", "axis 5", "[2, 3]"),
        C("argmax empty", () => Tensor.Zeros([0, 2]).ArgMax(0), "argmax", "axis 0", "[0, 2]", "empty"),
        C("argmin axis", () => A.ArgMin(2), "argmin", "axis 2", "[2, 3]"),
        C("argmax int", () => I.ArgMax(), "argmax", "int32"),
        C("variance too few", () => Tensor.Zeros([2, 1]).Variance(1, unbiased: true), "variance", "axes [1]", "[2, 1]", "unbiased"),
        C("softmax axis", () => A.Softmax(2), "softmax", "axis 2", "[2, 3]"),
        C("log_softmax scalar", () => Tensor.Scalar(1).LogSoftmax(), "log_softmax", "scalar"),
        C("softmax int", () => I.Softmax(), "softmax", "int32", "[2]"),
        C("sum int", () => I.Sum(), "sum", "int32", "[2]"),
        // matmul
        C("matmul inner", () => A.MatMul(B), "matmul", "[2, 3]", "[4, 5]", "3 vs 4"),
        C("matmul batch", () => Tensor.Zeros([2, 2, 3]).MatMul(Tensor.Zeros([3, 3, 4])), "matmul", "batch", "[2, 2, 3]", "[3, 3, 4]"),
        C("matmul scalar", () => Tensor.Scalar(1).MatMul(A), "matmul", "[]", "[2, 3]"),
        C("matmul dtype", () => A.MatMul(Tensor.Zeros([3, 2], DType.Float64)), "matmul", "float32", "float64", "[3, 2]"),
        C("matmul vector", () => Tensor.Zeros([4]).MatMul(A), "matmul", "[1, 4]", "[2, 3]"),
        // indexing
        C("index_select dtype", () => A.IndexSelect(0, A), "index_select", "int32", "float32", "[2, 3]"),
        C("index_select range", () => A.IndexSelect(1, Tensor.FromArray(new[] { 0, 3 })), "index_select", "index 3", "axis 1", "size 3", "[2, 3]"),
        C("index_select negative", () => A.IndexSelect(0, Tensor.FromArray(new[] { -1 })), "index_select", "index -1", "axis 0"),
        C("index_select axis", () => A.IndexSelect(2, I), "index_select", "axis 2", "[2, 3]"),
        C("gather dtype", () => A.Gather(1, A), "gather", "int32", "[2, 3]"),
        C("gather shape", () => A.Gather(1, Tensor.FromArray(new[] { 0, 1, 2 }, [3, 1])), "gather", "[3, 1]", "[2, 3]", "axis 1"),
        C("gather range", () => A.Gather(1, Tensor.FromArray(new[] { 0, 5 }, [2, 1])), "gather", "index 5", "axis 1", "[2, 3]"),
        C("scatter_add shape", () => Tensor.ScatterAdd([2, 3], 1, Tensor.FromArray(new[] { 0, 1 }, [2, 1]), Tensor.Zeros([2, 2])), "scatter_add", "[2, 1]", "[2, 2]"),
        C("scatter_add range", () => Tensor.ScatterAdd([2, 3], 1, Tensor.FromArray(new[] { 0, 3 }, [2, 1]), Tensor.Zeros([2, 1])), "scatter_add", "index 3", "axis 1", "[2, 3]"),
        C("scatter_add axis", () => Tensor.ScatterAdd([2, 3], 2, Tensor.FromArray(new[] { 0, 1 }, [2, 1]), Tensor.Zeros([2, 1])), "scatter_add", "axis 2", "[2, 3]"),
        C("concat empty", () => Tensor.Concat([]), "concat", "at least one"),
        C("concat shapes", () => Tensor.Concat([A, B], 0), "concat", "[2, 3]", "[4, 5]", "axis 0"),
        C("concat rank", () => Tensor.Concat([A, Tensor.Zeros([2, 3, 1])], 1), "concat", "[2, 3]", "[2, 3, 1]", "axis 1"),
        C("concat axis", () => Tensor.Concat([A, A], 2), "concat", "axis 2", "[2, 3]"),
        C("concat dtype", () => Tensor.Concat([A, A.To(DType.Float64)]), "concat", "float32", "float64"),
        C("stack shapes", () => Tensor.Stack([A, B]), "stack", "[2, 3]", "[4, 5]"),
        C("stack axis", () => Tensor.Stack([A, A], 3), "stack", "axis 3", "[2, 3]"),
        C("split sizes", () => A.Split([1, 1], 1), "split", "[1, 1]", "axis 1", "size 3", "[2, 3]"),
        C("split negative", () => A.Split([4, -1], 1), "split", "[4, -1]", "axis 1"),
        C("chunk", () => A.Chunk(2, 1), "chunk", "axis 1", "size 3", "[2, 3]", "2 equal"),
        // autograd
        C("requires_grad int", () => I.RequireGrad(), "requires_grad", "int32"),
        C("backward without graph", () => A.Backward(), "backward", "[2, 3]", "does not require grad"),
        C("backward non-scalar", () => A.To(DType.Float64).RequireGrad().Exp().Backward(), "backward", "[2, 3]", "seed"),
        C("backward seed shape", () => A.To(DType.Float64).RequireGrad().Exp().Backward(Tensor.Zeros([3], DType.Float64)), "backward", "[3]", "[2, 3]"),
        // devices and generators
        C("no cuda backend", () => Tensor.Zeros([1], device: Device.Cuda(9)), "cuda:9", "backend"),
        C("rng bound", () => new Rng(1).NextInt(0), "rng", "0"),
        C("threads", () => EngineThreads.Count = 0, "EngineThreads.Count", "0"),
        C("to_array type", () => A.ToArray<double>(), "ToArray", "float32", "float"),
    ];

    public static TheoryData<string> CaseNames() => [.. Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ErrorMessageNamesOpShapesAndAxis(string name)
    {
        var c = Cases.Single(x => x.Name == name);
        var ex = Record.Exception(c.Act);
        Assert.NotNull(ex);
        Assert.True(ex is ArgumentException or InvalidOperationException,
            $"{name}: expected ArgumentException or InvalidOperationException, got {ex.GetType().Name}: {ex.Message}");
        foreach (var f in c.Fragments)
            Assert.True(ex.Message.Contains(f, StringComparison.Ordinal), $"{name}: message \"{ex.Message}\" does not mention \"{f}\"");
    }

    [Fact]
    public void ShapeAndAxisErrorsAreArgumentExceptions()
    {
        // Bad shapes and axes are argument errors (catchable as ArgumentException); state errors are InvalidOperation.
        Assert.ThrowsAny<ArgumentException>(() => A.Add(B));
        Assert.ThrowsAny<ArgumentException>(() => A.Sum(3));
        Assert.ThrowsAny<ArgumentException>(() => A.IndexSelect(0, Tensor.FromArray(new[] { 9 })));
        Assert.ThrowsAny<ArgumentException>(() => _ = A[5, 0]);
        Assert.ThrowsAny<ArgumentException>(() => A.MatMul(B));
        Assert.Throws<InvalidOperationException>(() => A.T.View(6));
    }

    [Fact]
    public void FailedIndexingLeavesNoPartialGraph()
    {
        var x = Tensor.Zeros([3, 2], DType.Float64).RequireGrad();
        Assert.ThrowsAny<ArgumentException>(() => x.IndexSelect(0, Tensor.FromArray(new[] { 0, 7 })));
        Assert.Null(x.Grad);
    }
}
