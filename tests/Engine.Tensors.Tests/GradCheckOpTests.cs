using System.Reflection;
using System.Runtime.CompilerServices;
using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// Base for gradient-check tests. <see cref="Check"/> runs <see cref="GradCheck.Check"/> (every element, float64
/// central differences) and also verifies that the graph the function builds contains a node type the calling test
/// declares with <see cref="CoversNodeAttribute"/>, so a check cannot drift away from the op it claims to cover.
/// </summary>
public abstract class GradCheckTestBase
{
    protected GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5,
        [CallerMemberName] string test = "")
    {
        var declared = GetType().GetMethod(test, BindingFlags.Public | BindingFlags.Instance)!
            .GetCustomAttributes<CoversNodeAttribute>().Select(a => a.Node).ToHashSet();
        Assert.NotEmpty(declared);
        var built = NodeTypes(f(inputs));
        Assert.True(built.Overlaps(declared),
            $"{test} declares [CoversNode] for {string.Join(", ", declared.Select(d => d.Name))} but this check builds only {string.Join(", ", built.Select(b => b.Name))}");
        var r = GradCheck.Check(f, inputs, eps, atol, rtol);
        Assert.True(r.Passed, r.ToString());
        return r;
    }

    /// <summary>Every node type in the graph that produced <paramref name="y"/>.</summary>
    internal static HashSet<Type> NodeTypes(Tensor y)
    {
        var seen = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        if (y.GradFn is { } root) stack.Push(root);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!seen.Add(n)) continue;
            foreach (var i in n.Inputs) if (i.GradFn is { } c) stack.Push(c);
        }
        return seen.Select(n => n.GetType()).ToHashSet();
    }

    public static TheoryData<string> Layouts() => ["contiguous", "transposed", "sliced"];
}

/// <summary>
/// Every differentiable op of Engine.Tensors passes a float64 gradient check here, on inputs that broadcast and on
/// non-contiguous (transposed, sliced) leaves. To add an op: write a test that calls <c>Check</c> through it and
/// mark it <c>[CoversNode(typeof(YourNode))]</c>; <see cref="CoverageGuardTests"/> fails until you do.
/// </summary>
public class GradCheckOpTests : GradCheckTestBase
{
    private static Tensor Leaf(int[] shape, ulong seed, string layout = "contiguous", double lo = -2, double hi = 2) => Ref.Leaf(shape, seed, layout, lo, hi);

    // ---- elementwise binary, with broadcasting ----

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(AddNode))]
    public void Add(string layout) => Check(x => x[0].Add(x[1]), [Leaf([3, 4], 1, layout), Leaf([4], 2)]);

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(SubNode))]
    public void Sub(string layout) => Check(x => x[0].Sub(x[1]), [Leaf([2, 1, 4], 1), Leaf([3, 4], 2, layout)]);

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(MulNode))]
    public void Mul(string layout) => Check(x => x[0] * x[1], [Leaf([3, 1], 1), Leaf([2, 3, 4], 2, layout)]);

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(DivNode))]
    public void Div(string layout) => Check(x => x[0] / x[1], [Leaf([4, 3], 1, layout), Leaf([3], 2, lo: 0.5, hi: 2)]);

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(MaximumNode))]
    public void MaximumAndMinimum(string layout)
    {
        Check(x => x[0].Maximum(x[1]), [Leaf([3, 4], 1, layout), Leaf([4], 2)]);
        Check(x => x[0].Minimum(x[1]), [Leaf([1, 4], 3), Leaf([3, 4], 4, layout)]);
    }

    [Fact]
    [CoversNode(typeof(MaximumNode))]
    public void MaximumSplitsTiesEvenly()
    {
        var a = Tensor.FromArray(new double[] { 1, 2, 3 }).RequireGrad();
        var b = Tensor.FromArray(new double[] { 1, 5, 0 }).RequireGrad();
        var y = a.Maximum(b);
        Assert.Contains(typeof(MaximumNode), NodeTypes(y));
        y.Sum().Backward();
        Assert.Equal([0.5, 0, 1], a.Grad!.ToDoubleArray());
        Assert.Equal([0.5, 1, 0], b.Grad!.ToDoubleArray());
    }

    // ---- elementwise unary ----

    public static TheoryData<string, string> UnaryCases()
    {
        var d = new TheoryData<string, string>();
        foreach (var op in new[] { "neg", "exp", "log", "sqrt", "rsqrt", "abs", "relu", "sigmoid", "tanh", "softplus", "gelu" })
            foreach (var l in new[] { "contiguous", "transposed", "sliced" }) d.Add(op, l);
        return d;
    }

    private static (Func<Tensor, Tensor> f, double lo, double hi) Unary(string op) => op switch
    {
        "neg" => (x => x.Neg(), -2, 2),
        "exp" => (x => x.Exp(), -2, 2),
        "log" => (x => x.Log(), 0.2, 3),
        "sqrt" => (x => x.Sqrt(), 0.2, 3),
        "rsqrt" => (x => x.Rsqrt(), 0.2, 3),
        "abs" => (x => x.Abs(), -2, 2),
        "relu" => (x => x.Relu(), -2, 2),
        "sigmoid" => (x => x.Sigmoid(), -4, 4),
        "tanh" => (x => x.Tanh(), -2, 2),
        "softplus" => (x => x.Softplus(), -6, 6),
        "gelu" => (x => x.Gelu(), -4, 4),
        _ => throw new ArgumentException(op),
    };

    [Theory, MemberData(nameof(UnaryCases))]
    [CoversNode(typeof(NegNode)), CoversNode(typeof(ExpNode)), CoversNode(typeof(LogNode)), CoversNode(typeof(SqrtNode))]
    [CoversNode(typeof(RsqrtNode)), CoversNode(typeof(AbsNode)), CoversNode(typeof(ReluNode)), CoversNode(typeof(SigmoidNode))]
    [CoversNode(typeof(TanhNode)), CoversNode(typeof(SoftplusNode)), CoversNode(typeof(GeluNode))]
    public void UnaryOps(string op, string layout)
    {
        var (f, lo, hi) = Unary(op);
        var x = Leaf([3, 5], 7, layout, lo, hi);
        // Abs and ReLU have a kink at 0: keep the elements away from it so central differences are exact.
        if (op is "abs" or "relu") x = Ref.Leaf([3, 5], 7, layout, 0.1, 2);
        var r = GradCheck.Check(v => f(v[0]), [x]);
        Assert.True(r.Passed, $"{op} {layout}: {r}");
        if (op is "abs" or "relu")
        {
            var neg = Leaf([4], 8, lo: -2, hi: -0.1);
            Assert.True(GradCheck.Check(v => f(v[0].Mul(v[1])), [neg, Leaf([4], 9, lo: 0.5, hi: 1)]).Passed);
        }
        // The declared node is built by this op.
        Assert.Contains(NodeName(op), NodeTypes(f(Leaf([2], 1, lo: 0.5, hi: 1))).Select(t => t.Name));
    }

    private static string NodeName(string op) => op switch
    {
        "neg" => nameof(NegNode), "exp" => nameof(ExpNode), "log" => nameof(LogNode), "sqrt" => nameof(SqrtNode),
        "rsqrt" => nameof(RsqrtNode), "abs" => nameof(AbsNode), "relu" => nameof(ReluNode), "sigmoid" => nameof(SigmoidNode),
        "tanh" => nameof(TanhNode), "softplus" => nameof(SoftplusNode), _ => nameof(GeluNode),
    };

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(PowNode))]
    public void Pow(string layout)
    {
        Check(x => x[0].PowScalar(2), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].PowScalar(3), [Leaf([3, 4], 2, layout)]);
        Check(x => x[0].PowScalar(1.5), [Leaf([3, 4], 3, layout, 0.2, 2)]);
        Check(x => x[0].PowScalar(-1), [Leaf([3, 4], 4, layout, 0.5, 2)]);
        Check(x => x[0].Square(), [Leaf([3, 4], 5, layout)]);
        Check(x => x[0].PowScalar(1), [Leaf([3, 4], 6, layout)]);
        Check(x => x[0].PowScalar(0).Mul(x[0]), [Leaf([3, 4], 7, layout)]);
    }

    [Fact]
    [CoversNode(typeof(PowNode))]
    public void PowGradientIsFiniteAtZero()
    {
        var x = Tensor.FromArray(new double[] { 0, 1, -2 }).RequireGrad();
        x.PowScalar(0).Add(x.PowScalar(2)).Add(x.PowScalar(1)).Sum().Backward();
        Assert.Equal([1, 3, -3], x.Grad!.ToDoubleArray());
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(ScalarAffineNode))]
    public void ScalarArithmetic(string layout)
    {
        Check(x => x[0].AddScalar(3), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].MulScalar(-2.5), [Leaf([3, 4], 2, layout)]);
        Check(x => x[0].RSubScalar(1), [Leaf([3, 4], 3, layout)]);
        Check(x => (2.0 - x[0] * 3.0 + 1.0) / 4.0 - 0.5, [Leaf([3, 4], 4, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(RDivScalarNode))]
    public void RDivScalar(string layout)
    {
        Check(x => x[0].RDivScalar(3), [Leaf([3, 4], 1, layout, 0.5, 2)]);
        Check(x => 2.0 / x[0], [Leaf([3, 4], 2, layout, -2, -0.5)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(WhereNode))]
    public void WhereAndMaskedFill(string layout)
    {
        var cond = Tensor.FromArray(new double[] { 1, 0, 0, 1 });
        Check(x => Tensor.Where(cond, x[0], x[1]), [Leaf([3, 4], 1, layout), Leaf([3, 1], 2)]);
        var mask = Tensor.FromArray(new[] { 0, 1, 0 }, [3, 1]);
        Check(x => x[0].MaskedFill(mask, -1e9).Softmax(-1), [Leaf([3, 4], 3, layout)]);
    }

    // ---- reductions ----

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(SumNode))]
    public void SumMeanVariance(string layout)
    {
        foreach (var axes in new int[]?[] { null, [0], [1], [-1, 0] })
            foreach (bool keep in new[] { false, true })
            {
                Check(x => x[0].Sum(axes, keep), [Leaf([3, 4], 1, layout)]);
                Check(x => x[0].Mean(axes, keep), [Leaf([3, 4], 2, layout)]);
                Check(x => x[0].Variance(axes, unbiased: keep, keepDim: keep), [Leaf([3, 4], 3, layout)]);
            }
        Check(x => x[0].Sum([0, 2]), [Leaf([2, 3, 4], 4)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(ExtremumNode))]
    public void MaxMin(string layout)
    {
        foreach (var axes in new int[]?[] { null, [0], [1], [0, 1] })
            foreach (bool keep in new[] { false, true })
            {
                Check(x => x[0].Max(axes, keep), [Leaf([3, 4], 1, layout)]);
                Check(x => x[0].Min(axes, keep), [Leaf([3, 4], 2, layout)]);
            }
    }

    [Fact]
    [CoversNode(typeof(ExtremumNode))]
    public void MaxSplitsTiesEvenly()
    {
        var x = Tensor.FromArray(new double[] { 1, 3, 3, 2 }, [2, 2]).RequireGrad();
        var y = x.Max();
        Assert.Contains(typeof(ExtremumNode), NodeTypes(y));
        y.Backward();
        Assert.Equal([0, 0.5, 0.5, 0], x.Grad!.ToDoubleArray());
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(SoftmaxNode))]
    public void SoftmaxAndLogSoftmax(string layout)
    {
        for (int axis = -2; axis < 2; axis++)
        {
            int a = axis;
            Check(x => x[0].Softmax(a), [Leaf([3, 5], 1, layout)]);
            Check(x => x[0].LogSoftmax(a), [Leaf([3, 5], 2, layout)]);
        }
        Check(x => x[0].LogSoftmax(1), [Leaf([2, 3, 4], 3)]);
    }

    // ---- linear algebra ----

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(MatMulNode))]
    public void MatMul(string layout)
    {
        Check(x => x[0].MatMul(x[1]), [Leaf([3, 4], 1, layout), Leaf([4, 5], 2, layout)]);
        Check(x => x[0].MatMul(x[1]), [Leaf([2, 3, 4], 3, layout), Leaf([4, 2], 4)]);           // broadcast batch
        Check(x => x[0].MatMul(x[1]), [Leaf([3, 4], 5), Leaf([2, 1, 4, 3], 6, layout)]);
        Check(x => x[0].MatMul(x[1]), [Leaf([4], 7), Leaf([2, 4, 3], 8, layout)]);              // 1-D left
        Check(x => x[0].MatMul(x[1]), [Leaf([3, 4], 9, layout), Leaf([4], 10)]);                // 1-D right
        Check(x => x[0].MatMul(x[1]), [Leaf([4], 11), Leaf([4], 12)]);                          // dot
        Check(x => x[0].MatMul(x[0].T), [Leaf([3, 4], 13, layout)]);                            // shared operand
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(MatMulBiasNode))]
    public void MatMulBias(string layout)
    {
        // The linear layer's x·Wᵀ + b (W read transposed, in place), k past one kc block of the product, a sliced bias.
        Check(x => x[0].MatMulBias(x[1].T, x[2]), [Leaf([5, 4], 1, layout), Leaf([3, 4], 2, layout), Leaf([3], 3)]);
        Check(x => x[0].MatMulBias(x[1], x[2]), [Leaf([3, 300], 4, layout), Leaf([300, 2], 5), Leaf([2], 6, "sliced")]);
        Check(x => x[0].MatMulBias(x[1], x[2]).Gelu(), [Leaf([1, 1], 7), Leaf([1, 6], 8, layout), Leaf([6], 9)]);
    }

    // ---- views ----

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(ReshapeNode))]
    public void ReshapeViewSqueezeUnsqueeze(string layout)
    {
        Check(x => x[0].Reshape(2, 6).Exp(), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].Reshape(-1), [Leaf([3, 4], 2, layout)]);
        Check(x => x[0].Unsqueeze(1).Squeeze(1).Unsqueeze(0), [Leaf([3, 4], 3, layout)]);
        Check(x => x[0].Contiguous().View(4, 3), [Leaf([3, 4], 4, layout)]);
        Check(x => x[0].Flatten().Mul(x[0].Flatten()), [Leaf([3, 4], 5, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(PermuteNode))]
    public void PermuteTranspose(string layout)
    {
        Check(x => x[0].Permute(2, 0, 1).Mul(x[1]), [Leaf([2, 3, 4], 1, layout), Leaf([2, 3], 2)]);
        Check(x => x[0].T.MatMul(x[0]), [Leaf([3, 4], 3, layout)]);
        Check(x => x[0].Transpose(0, 2), [Leaf([2, 3, 4], 4, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(NarrowNode))]
    public void NarrowSliceSelectSplit(string layout)
    {
        Check(x => x[0].Narrow(1, 1, 2), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].Slice(0, -2, 3).Exp(), [Leaf([3, 4], 2, layout)]);
        Check(x => x[0].Select(1, 3).Mul(x[0].Select(1, 0)), [Leaf([3, 4], 3, layout)]);
        Check(x => { var p = x[0].Split([1, 3], 1); return p[0].Mul(p[1]); }, [Leaf([3, 4], 4, layout)]);
        Check(x => x[0].Chunk(2, 1)[1], [Leaf([3, 4], 5, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(ExpandNode))]
    public void Expand(string layout)
    {
        Check(x => x[0].Expand(2, 3, 4).Mul(x[1]), [Leaf([3, 1], 1), Leaf([2, 3, 4], 2, layout)]);
        Check(x => x[0].Unsqueeze(0).Expand(5, 3, 4), [Leaf([3, 4], 3, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(CloneNode))]
    public void CloneAndContiguous(string layout)
    {
        Check(x => x[0].Clone().Mul(x[0]), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].Narrow(1, 1, 2).Contiguous(), [Leaf([3, 4], 2, layout)]);
    }

    [Fact]
    [CoversNode(typeof(CastNode))]
    public void Cast()
    {
        // Through float32 and back: the cast's gradient is exactly 1, so a coarse step and tolerance suffice.
        Check(x => x[0].To(DType.Float32).Exp().To(DType.Float64), [Leaf([3, 4], 1, "transposed")], eps: 1e-2, atol: 1e-3, rtol: 1e-2);
    }

    [Fact]
    [CoversNode(typeof(ToDeviceNode))]
    public void ToDevice()
    {
        var mirror = MirrorBackend.Get();
        Check(x => x[0].To(mirror).Exp().Mul(x[1].To(mirror)).To(Device.Cpu), [Leaf([3, 4], 1, "sliced"), Leaf([4], 2)]);
    }

    // ---- indexing ----

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(ConcatNode))]
    public void ConcatAndStack(string layout)
    {
        Check(x => Tensor.Concat([x[0], x[1], x[0]], 1), [Leaf([3, 2], 1, layout), Leaf([3, 4], 2)]);
        Check(x => Tensor.Stack([x[0], x[1].Exp()], 0), [Leaf([3, 4], 3, layout), Leaf([3, 4], 4)]);
        Check(x => Tensor.Concat([x[0], x[1]], 0).Tanh(), [Leaf([0, 4], 5), Leaf([2, 4], 6, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(IndexSelectNode))]
    public void IndexSelect(string layout)
    {
        Check(x => x[0].IndexSelect(0, Tensor.FromArray(new[] { 2, 0, 2, 1 }, [2, 2])), [Leaf([3, 4], 1, layout)]);
        Check(x => x[0].IndexSelect(1, Tensor.FromArray(new[] { 3, 3, 0 })), [Leaf([3, 4], 2, layout)]);
    }

    [Theory, MemberData(nameof(Layouts))]
    [CoversNode(typeof(GatherNode)), CoversNode(typeof(ScatterAddNode))]
    public void GatherAndScatterAdd(string layout)
    {
        var index = Tensor.FromArray(new[] { 3, 0, 1, 1, 2, 3 }, [3, 2]);
        Check(x => x[0].Gather(1, index), [Leaf([3, 4], 1, layout)]);
        Check(x => Tensor.ScatterAdd([3, 4], 1, index, x[0]), [Leaf([3, 2], 2, layout)]);
        // Second-order path: Gather's backward is ScatterAdd and vice versa, both checked through a composed function.
        Check(x => Tensor.ScatterAdd([3, 4], 1, index, x[0].Gather(1, index)).Mul(x[0]), [Leaf([3, 4], 3, layout)]);
        var rows = Tensor.FromArray(new[] { 2, 0, 1, 2 }, [1, 4]);
        Check(x => x[0].Gather(0, rows), [Leaf([3, 4], 4, layout)]);
    }

    // ---- composed functions that exercise many nodes at once ----

    [Fact]
    [CoversNode(typeof(MatMulNode)), CoversNode(typeof(SoftmaxNode)), CoversNode(typeof(GeluNode)), CoversNode(typeof(SumNode))]
    public void SmallMlpWithCrossEntropy()
    {
        var targets = Tensor.FromArray(new[] { 1, 0, 2, 1 }, [4, 1]);
        Check(x =>
        {
            var h = x[0].MatMul(x[1]).Add(x[2]).Gelu();
            var logits = h.MatMul(x[3]);
            var logp = logits.Softmax(-1).Log();
            return logp.Gather(1, targets).Mean().Neg();
        }, [Leaf([4, 3], 1), Leaf([3, 5], 2, "transposed"), Leaf([5], 3), Leaf([5, 3], 4, "sliced")]);
    }
}
