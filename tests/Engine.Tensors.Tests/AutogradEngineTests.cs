using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// A user-defined op with a deliberately wrong backward (d(3x)/dx reported as 2): GradCheck must catch it.
/// (This project sees Engine.Tensors internals, so the override is "protected internal"; elsewhere it is "protected".)
/// </summary>
internal sealed class WrongTripleNode : Node
{
    public override string Name => "wrong_triple";
    protected internal override Tensor?[] Backward(Tensor g) => [g.MulScalar(2)];

    public static Tensor Apply(Tensor x)
    {
        var y = x.Detach().MulScalar(3);
        return Graph.Output(y, "wrong_triple", () => new WrongTripleNode(), x);
    }
}

/// <summary>A user-defined op whose backward returns NaN: anomaly mode must name it.</summary>
internal sealed class NaNGradNode : Node
{
    public override string Name => "nan_grad";
    protected internal override Tensor?[] Backward(Tensor g) => [g.MulScalar(double.NaN)];

    public static Tensor Apply(Tensor x) => Graph.Output(x.Detach().MulScalar(1), "nan_grad", () => new NaNGradNode(), x);
}

public class AutogradEngineTests
{
    private static Tensor Leaf(params double[] v) => Tensor.FromArray(v).RequireGrad();

    [Fact]
    public void GradientsAccumulateAcrossBackwardCallsUntilZeroed()
    {
        var x = Leaf(1, 2, 3);
        x.Mul(x).Sum().Backward();
        Assert.Equal([2, 4, 6], x.Grad!.ToDoubleArray());
        x.MulScalar(10).Sum().Backward();
        Assert.Equal([12, 14, 16], x.Grad!.ToDoubleArray());
        x.ZeroGrad();
        Assert.Null(x.Grad);
        x.Sum().Backward();
        Assert.Equal([1, 1, 1], x.Grad!.ToDoubleArray());
        // A leaf used several times in one graph sums its contributions.
        var y = Leaf(2);
        y.Mul(y).Add(y).Add(y.Exp()).Sum().Backward();
        Assert.Equal(2 * 2 + 1 + Math.Exp(2), y.Grad!.Item(), 1e-12);
    }

    [Fact]
    public void AccumulatedGradientDoesNotAliasOtherTensors()
    {
        // Add passes its gradient through unchanged: both leaves must get their own buffers.
        var a = Leaf(1, 2); var b = Leaf(3, 4);
        a.Add(b).Sum().Backward();
        Assert.NotSame(a.Grad!.Storage, b.Grad!.Storage);
        a.Sum().Backward();
        Assert.Equal([2, 2], a.Grad.ToDoubleArray());
        Assert.Equal([1, 1], b.Grad.ToDoubleArray());
        // A leaf whose gradient arrives as a broadcast (stride-0) view gets a dense copy it can add into.
        var s = Tensor.Scalar(1, DType.Float64).RequireGrad();
        s.Expand(3).Sum().Backward();
        s.Expand(3).Sum().Backward();
        Assert.Equal(6, s.Grad!.Item());
    }

    [Fact]
    public void RetainGraphAllowsASecondBackwardAndWithoutItTheErrorIsClear()
    {
        var x = Leaf(1, 2);
        var loss = x.Exp().Sum();
        loss.Backward(retainGraph: true);
        loss.Backward();
        Ref.Close([2 * Math.E, 2 * Math.Exp(2)], x.Grad!, 1e-12);
        Assert.True(loss.GradFn!.IsReleased);
        var ex = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("retainGraph", ex.Message);
        Assert.Contains("sum", ex.Message);
        // A new loss over a freed intermediate also names the op that was freed.
        var x2 = Leaf(1, 2);
        var h = x2.Tanh();
        h.Sum().Backward();
        var ex2 = Assert.Throws<InvalidOperationException>(() => h.MulScalar(2).Sum().Backward());
        Assert.Contains("tanh", ex2.Message);
    }

    [Fact]
    public void NoGradBuildsNoGraphAndNests()
    {
        var x = Leaf(1, 2);
        Assert.True(GradMode.IsEnabled);
        using (new NoGrad())
        {
            Assert.False(GradMode.IsEnabled);
            var y = x.Mul(x);
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFn);
            using (new NoGrad()) Assert.False(GradMode.IsEnabled);
            Assert.False(GradMode.IsEnabled);
        }
        Assert.True(GradMode.IsEnabled);
        var scope = new NoGrad();
        scope.Dispose();
        scope.Dispose(); // idempotent
        Assert.True(GradMode.IsEnabled);
        Assert.True(x.Mul(x).RequiresGrad);
        // Without any input requiring a gradient nothing is recorded either.
        Assert.Null(Tensor.Ones([2]).Exp().GradFn);
    }

    [Fact]
    public async Task NoGradFlowsIntoAwaitsAndTasksStartedInsideButNotIntoOtherThreads()
    {
        var x = Leaf(1, 2);
        using var otherThreadReady = new ManualResetEventSlim();
        using var scopeEntered = new ManualResetEventSlim();
        bool? otherThreadSaw = null;
        // A thread started before the scope runs concurrently with it.
        var other = new Thread(() =>
        {
            otherThreadReady.Set();
            scopeEntered.Wait();
            otherThreadSaw = GradMode.IsEnabled && x.Mul(x).RequiresGrad;
        });
        other.Start();
        otherThreadReady.Wait(TestContext.Current.CancellationToken);
        using (new NoGrad())
        {
            scopeEntered.Set();
            await Task.Yield();                                   // continuation possibly on another pool thread
            Assert.False(GradMode.IsEnabled);
            Assert.False(x.Mul(x).RequiresGrad);
            bool inTask = await Task.Run(() => GradMode.IsEnabled || x.Exp().RequiresGrad, TestContext.Current.CancellationToken);
            Assert.False(inTask);
            other.Join();
        }
        Assert.True(otherThreadSaw);
        Assert.True(GradMode.IsEnabled);
        // A scope opened inside an awaited method ends there and does not leak back to the caller.
        await InnerScope();
        Assert.True(GradMode.IsEnabled);
        // A scope created in another flow and disposed here does not switch recording off.
        var foreign = await Task.Run(() => new NoGrad(), TestContext.Current.CancellationToken);
        Assert.True(GradMode.IsEnabled);
        foreign.Dispose();
        Assert.True(GradMode.IsEnabled);
        Assert.True(x.Exp().RequiresGrad);
        static async Task InnerScope()
        {
            using var _ = new NoGrad();
            await Task.Yield();
            Assert.False(GradMode.IsEnabled);
        }
    }

    [Fact]
    public void DetachStopsGradientFlow()
    {
        var x = Leaf(1, 2);
        var y = x.Mul(x);
        var z = y.Detach().Mul(x);               // d/dx = y (treated as a constant)
        z.Sum().Backward();
        Assert.Equal([1, 4], x.Grad!.ToDoubleArray());
        Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        var ex = Assert.Throws<InvalidOperationException>(() => Tensor.FromArray(new[] { 1 }).RequireGrad());
        Assert.Contains("int32", ex.Message);
    }

    [Fact]
    public void TenThousandOpChainDoesNotOverflowTheStack()
    {
        var x = Leaf(0.5);
        var y = x;
        for (int i = 0; i < 10_000; i++) y = i % 2 == 0 ? y.MulScalar(1.0001) : y.AddScalar(0.001);
        y.Backward();
        Assert.Equal(Math.Pow(1.0001, 5000), x.Grad!.Item(), 1e-9);
        // Retained deep graph can be walked twice too.
        var w = Leaf(1);
        var v = w;
        for (int i = 0; i < 10_000; i++) v = v.Mul(w.MulScalar(1e-4).AddScalar(1)); // each step reads w again
        v.Backward(retainGraph: true);
        double first = w.Grad!.Item();
        v.Backward();
        Assert.Equal(2 * first, w.Grad!.Item(), 1e-9 * first);
    }

    [Fact]
    public void BackwardNeedsASeedForNonScalarsAndValidatesIt()
    {
        var x = Leaf(1, 2, 3);
        var y = x.MulScalar(2);
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("[3]", ex.Message);
        Assert.Contains("seed", ex.Message);
        var bad = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([2], DType.Float64)));
        Assert.Contains("[2]", bad.Message);
        var dt = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones([3], DType.Float32)));
        Assert.Contains("float32", dt.Message);
        Assert.Contains("float64", dt.Message);
        y.Backward(Tensor.FromArray(new double[] { 1, 10, 100 }));
        Assert.Equal([2, 20, 200], x.Grad!.ToDoubleArray());
        var none = Assert.Throws<InvalidOperationException>(() => Tensor.Ones([1]).Backward());
        Assert.Contains("does not require grad", none.Message);
        // A leaf can be its own root.
        var leaf = Leaf(5);
        leaf.Backward();
        Assert.Equal(1, leaf.Grad!.Item());
    }

    [Fact]
    public void BackwardFreesSavedIntermediatesUnlessRetained()
    {
        var x = Leaf(1, 2);
        var e = x.Exp();
        var loss = e.Sum();
        var node = e.GradFn!;
        Assert.NotEmpty(node.Inputs);
        loss.Backward();
        Assert.True(node.IsReleased);
        Assert.Empty(node.Inputs);
        var e2 = x.Exp();
        e2.Sum().Backward(retainGraph: true);
        Assert.False(e2.GradFn!.IsReleased);
    }

    [Fact]
    public void AnomalyModeNamesTheOpInForwardAndBackward()
    {
        AnomalyMode.IsEnabled = true;
        try
        {
            var x = Leaf(-1, 2);
            var fwd = Assert.Throws<AnomalyException>(() => x.Log());
            Assert.Contains("log", fwd.Message);
            Assert.Contains("forward", fwd.Message);
            Assert.Contains("NaN", fwd.Message);
            // sqrt(0) is finite but its derivative 1/(2·0) is not: reported as sqrt's backward, not as the div inside it.
            var z = Leaf(0, 4);
            var s = z.Sqrt().Sum();
            var bwd = Assert.Throws<AnomalyException>(() => s.Backward());
            Assert.Contains("sqrt backward", bwd.Message);
            var custom = NaNGradNode.Apply(Leaf(1)).Sum();
            Assert.Contains("nan_grad backward", Assert.Throws<AnomalyException>(() => custom.Backward()).Message);
        }
        finally { AnomalyMode.IsEnabled = false; }
        // Off: NaN flows silently.
        Assert.True(double.IsNaN(Leaf(-1).Log().Item()));
    }

    [Fact]
    public void GradCheckReportsWorstErrorAndFailsClearlyOnAWrongBackward()
    {
        var x = Ref.Leaf([2, 3], 1);
        var r = GradCheck.Check(v => WrongTripleNode.Apply(v[0]).Square(), [x], throwOnFailure: false);
        Assert.False(r.Passed);
        var rep = Assert.Single(r.Inputs);
        Assert.Equal([2, 3], rep.Shape);
        Assert.True(rep.MaxAbsError > 0.1);
        Assert.InRange(rep.MaxRelError, 0.3, 0.34);                     // analytic is 2/3 of numeric everywhere
        Assert.Equal(2, rep.WorstIndex.Length);
        Assert.Equal(rep.Analytic, rep.Numeric * 2 / 3, 1e-6 * Math.Abs(rep.Numeric));
        var ex = Assert.Throws<GradCheckException>(() => GradCheck.Check(v => WrongTripleNode.Apply(v[0]), [x]));
        Assert.Contains("gradcheck failed", ex.Message);
        Assert.Contains("input 0 [2, 3]", ex.Message);
        Assert.Contains("FAILED", ex.Message);
        Assert.Contains("max abs err", ex.Message);
        // The worst element is where |analytic − numeric| is largest: put one large value there.
        var v = Tensor.FromArray(new double[] { 0.1, 0.2, 5, 0.3 }, [2, 2]).RequireGrad();
        var worst = GradCheck.Check(t => WrongTripleNode.Apply(t[0]).Square(), [v], throwOnFailure: false).Inputs[0];
        Assert.Equal([1, 0], worst.WorstIndex);
        // A correct op passes and reports tiny errors; inputs without RequiresGrad are not reported.
        var ok = GradCheck.Check(t => t[0].Mul(t[1]).Exp(), [Ref.Leaf([3], 2), Tensor.Ones([3], DType.Float64)]);
        Assert.True(ok.Passed);
        Assert.Single(ok.Inputs);
        Assert.True(ok.Inputs[0].MaxAbsError < 1e-7, ok.ToString());
        // The user's gradients are left untouched by the check.
        var keep = Ref.Leaf([2], 3);
        keep.Grad = Tensor.FromArray(new double[] { 7, 7 });
        GradCheck.Check(t => t[0].Exp(), [keep]);
        Assert.Equal([7, 7], keep.Grad!.ToDoubleArray());
    }

    [Fact]
    public void GradCheckRejectsInputsItCannotCheck()
    {
        Assert.Contains("no input requires a gradient", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0], [Tensor.Ones([2], DType.Float64)])).Message);
        Assert.Contains("float32", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0], [Tensor.Ones([2]).RequireGrad()])).Message);
        var leaf = Ref.Leaf([2], 1);
        Assert.Contains("not a leaf", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0], [leaf.Exp()])).Message);
        var expanded = Tensor.Ones([1], DType.Float64).Expand(3).RequireGrad();
        Assert.Contains("sharing storage", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0], [expanded])).Message);
        Assert.Contains("float64", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0].To(DType.Float32), [leaf])).Message);
        Assert.Contains("does not depend", Assert.Throws<ArgumentException>(() => GradCheck.Check(t => t[0].Detach(), [leaf])).Message);
    }

    [Fact]
    public void DirectionalGradCheckHandlesLargeInputsAndCatchesWrongBackward()
    {
        var a = Ref.Leaf([200, 150], 1);
        var b = Ref.Leaf([150, 120], 2, "transposed");
        var r = GradCheck.CheckDirectional(t => t[0].MatMul(t[1]).Tanh(), [a, b], directions: 2, atol: 1e-5);
        Assert.True(r.Passed, r.ToString());
        Assert.Equal(2, r.Inputs.Count);
        var bad = GradCheck.CheckDirectional(t => WrongTripleNode.Apply(t[0]).Sum(), [Ref.Leaf([300, 300], 3)], throwOnFailure: false);
        Assert.False(bad.Passed);
        Assert.Contains("FAILED", bad.ToString());
    }

    /// <summary>
    /// Gradients of a non-leaf tensor read through several narrows (q, k and v split from a fused projection,
    /// overlapping windows, selects): the engine adds the second and later windows into the pending gradient in
    /// place. Anomaly mode runs every narrow's own backward (zero pad, then a full-size add); the results must agree
    /// bit for bit.
    /// </summary>
    [Fact]
    public void NarrowGradientsAddedInPlaceEqualThePaddedOnesBitForBit()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            double[] Run(bool anomaly)
            {
                var rng = new Rng(12);
                var w = Tensor.RandN([6, 24], rng, dtype).RequireGrad();
                var x = Tensor.RandN([2, 5, 6], rng, dtype);
                bool saved = AnomalyMode.IsEnabled;
                AnomalyMode.IsEnabled = anomaly;
                try
                {
                    var h = x.MatMul(w);                                             // [2, 5, 24], not a leaf
                    var parts = h.Reshape(2, 5, 3, 2, 4).Permute(2, 0, 3, 1, 4);      // [3, 2, 2, 5, 4]
                    Tensor q = parts.Select(0, 0), k = parts.Select(0, 1), v = parts.Select(0, 2);
                    var loss = q.Mul(k).Sum().Add(v.Square().Sum())
                        .Add(h.Narrow(2, 3, 10).Tanh().Sum())                           // overlaps q and k
                        .Add(h.Narrow(1, 4, 1).Sum().MulScalar(0.5));
                    loss.Backward();
                    return w.Grad!.ToDoubleArray();
                }
                finally { AnomalyMode.IsEnabled = saved; }
            }
            var slow = Run(anomaly: true);
            var fast = Run(anomaly: false);
            for (int i = 0; i < slow.Length; i++)
                Assert.True(BitConverter.DoubleToInt64Bits(slow[i]) == BitConverter.DoubleToInt64Bits(fast[i]),
                    $"{dtype.Name()} element {i}: padded {slow[i]:G17}, in place {fast[i]:G17}");
        }
    }
}
