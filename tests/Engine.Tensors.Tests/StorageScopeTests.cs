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
}
