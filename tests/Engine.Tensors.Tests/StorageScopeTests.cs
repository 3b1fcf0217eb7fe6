namespace Engine.Tests;

public class StorageScopeTests
{
    /// <summary>A storage that records its disposal, so the test sees what a scope frees.</summary>
    private sealed class Probe : Storage
    {
        public Probe() : base(DType.Float32, 1) { }
        public bool Disposed { get; private set; }
        public override IBackend Backend => Engine.Cpu.CpuBackend.Instance;
        public override void Dispose() { Disposed = true; base.Dispose(); }
    }

    [Fact]
    public void FreesWhatWasCreatedInsideExceptKeptAndSuspended()
    {
        var before = new Probe();
        Probe inside, keptProbe, other, suspended;
        using (var scope = StorageScope.Begin())
        {
            inside = new Probe();
            keptProbe = new Probe();
            scope.Keep(new Tensor(keptProbe, [1]));
            other = new Probe();
            using (StorageScope.Suspend()) suspended = new Probe();
            Assert.Equal(3, scope.Created); // the suspended one belongs to no scope
        }
        Assert.False(before.Disposed);
        Assert.True(inside.Disposed);
        Assert.False(keptProbe.Disposed);
        Assert.True(other.Disposed);
        Assert.False(suspended.Disposed);
    }

    [Fact]
    public void NestedScopesEachFreeTheirOwnAndRestoreTheOuter()
    {
        Probe outerOne, innerOne, outerTwo;
        using (StorageScope.Begin())
        {
            outerOne = new Probe();
            using (StorageScope.Begin()) innerOne = new Probe();
            Assert.True(innerOne.Disposed);
            Assert.False(outerOne.Disposed);
            outerTwo = new Probe();
        }
        Assert.True(outerOne.Disposed);
        Assert.True(outerTwo.Disposed);
        var after = new Probe();
        Assert.False(after.Disposed);
    }

    [Fact]
    public void HostResultsStayValidAfterTheirScope()
    {
        Tensor y;
        using (StorageScope.Begin()) y = Tensor.FromArray(new float[] { 1, 2, 3 }).Mul(Tensor.FromArray(new float[] { 2, 2, 2 }));
        Assert.Equal(new double[] { 2, 4, 6 }, y.ToDoubleArray());
    }

    [Fact]
    public void APooledHostResultIsUnusableAfterItsScopeAndItsArrayIsReused()
    {
        const int n = 4096;   // above the pool's minimum length
        var a = Tensor.Full([n], 2f);
        Tensor y;
        float[] array;
        using (StorageScope.Begin())
        {
            y = a.Mul(a);
            array = ((Engine.Cpu.CpuStorage<float>)y.Storage).Data;
            Assert.Equal(4.0, y.ToDoubleArray()[n - 1]);
        }
        // Freed, not silently wrong: reading it throws.
        var e = Assert.Throws<ObjectDisposedException>(() => y.ToDoubleArray());
        Assert.Contains("StorageScope", e.Message);
        // The next result of that length takes the same array back, zeroed where the op needs zeros.
        var z = Tensor.Zeros([n]);
        Assert.Same(array, ((Engine.Cpu.CpuStorage<float>)z.Storage).Data);
        Assert.All(z.ToDoubleArray(), v => Assert.Equal(0.0, v));
        Assert.Equal(4.0, a.Mul(a).ToDoubleArray()[0]);
    }

    [Fact]
    public void ACallersArrayIsNeverTakenByThePool()
    {
        var mine = new float[4096];
        mine[0] = 7;
        Tensor t;
        using (StorageScope.Begin()) t = new Tensor(new Engine.Cpu.CpuStorage<float>(mine), [4096]);
        Assert.Equal(7.0, t.ToDoubleArray()[0]);          // still the caller's, still readable
        var z = Tensor.Zeros([4096]);
        Assert.NotSame(mine, ((Engine.Cpu.CpuStorage<float>)z.Storage).Data);
        Assert.Equal(7f, mine[0]);
    }

    [Fact]
    public void BackwardReusesTheBuffersOfGradientsItHasConsumed()
    {
        // y ← tanh(y) + y, 40 times: Add hands one gradient to both inputs, so a buffer freed too early would
        // corrupt the other path; a buffer never freed makes every node allocate afresh.
        const int n = 4099;   // a length no other test uses, so the pool holds no such array from elsewhere
        var x = Tensor.RandN([n], 5UL).RequireGrad();
        var y = x;
        for (int i = 0; i < 40; i++) y = y.Tanh().Add(y);
        long before = Engine.Cpu.CpuArrayPool.NewArraysOnThisThread;
        y.Sum().Backward();
        long made = Engine.Cpu.CpuArrayPool.NewArraysOnThisThread - before;
        Assert.True(made <= 10, $"backward allocated {made} new arrays of {n} elements for 40 nodes");

        // dy_{i+1}/dy_i = 1 - tanh(y_i)^2 + 1, in float64
        var xs = x.ToDoubleArray();
        var grad = x.Grad!.ToDoubleArray();
        for (int j = 0; j < n; j++)
        {
            double v = (float)xs[j], d = 1;
            for (int i = 0; i < 40; i++) { double t = Math.Tanh(v); d *= 2 - t * t; v = t + v; }
            Assert.True(Math.Abs(grad[j] - d) <= 1e-4 * Math.Abs(d) + 1e-5, $"element {j}: {grad[j]} against {d}");
        }
    }
}
