using Engine.Cuda.Tests.Emulation;
using Engine.GpuCheck;

namespace Engine.Cuda.Tests;

/// <summary>
/// The GPU check program's parity section, run against the emulated device, so the program itself is known to work
/// before it is carried to a GPU. The slowest test of the suite (about a minute on two cores); like every emulation
/// test it skips where no C++ compiler is found.
/// </summary>
public class GpuCheckOnEmulationTests
{
    [Fact]
    public void ParitySectionPassesOnTheEmulatedDevice()
    {
        var backend = HostEmulator.NewBackend(Device.Cuda(61));
        var report = new Report();
        new Parity(backend, report).Run();
        var text = new StringWriter();
        report.Print(text);
        TestContext.Current.SendDiagnosticMessage(text.ToString());
        Assert.True(report.Failures == 0, text.ToString());
    }
}
