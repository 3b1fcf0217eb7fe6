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
        var backend = HostEmulator.NewBackend();
        var report = new Report();
        new Parity(backend, report).Run();
        var text = new StringWriter();
        report.Print(text);
        TestContext.Current.SendDiagnosticMessage(text.ToString());
        Assert.True(report.Failures == 0, text.ToString());
    }

    [Fact]
    public void LongRunSectionsRunOnTheEmulatedDevice()
    {
        // A smaller model and fewer steps than on hardware (the emulator runs every kernel thread on the host); the
        // same code and bounds.
        var backend = HostEmulator.NewBackend();
        var report = new Report();
        var small = LongRun.Hardware with { ContextLength = 8, Layers = 1, ModelDim = 16 };
        LongRun.Agreement(backend, report, steps: 3, small);
        Assert.True(report.Failures == 0, Print(report));
        Assert.Contains("16×L", Print(report));
        // Device memory stays flat over the Trainer's steps: each step's intermediates are freed when it ends
        // (StorageScope), not when the garbage collector gets round to them.
        var memory = new Report();
        LongRun.MemoryIsFlat(backend, memory, steps: 20, small);
        string text = Print(memory);
        TestContext.Current.SendDiagnosticMessage(Print(report) + text);
        Assert.True(memory.Failures == 0, text);
        foreach (int step in new[] { 1, 2, 10, 20 }) Assert.Contains($"step {step}: peak", text);
    }

    [Fact]
    public void GemmThroughputRowsRunForEveryKind()
    {
        var backend = HostEmulator.NewBackend();
        var report = new Report();
        Throughput.Gemm(backend, report, 16, DType.Float32, tf32: false, reps: 1);
        Throughput.Gemm(backend, report, 16, DType.Float32, tf32: true, reps: 1);
        Throughput.Gemm(backend, report, 16, DType.BFloat16, tf32: false, reps: 1);
        Throughput.Gemm(backend, report, 16, DType.Float64, tf32: false, reps: 1);
        string text = Print(report);
        Assert.True(report.Failures == 0, text);
        Assert.Equal(4, System.Text.RegularExpressions.Regex.Count(text, "GEMM 16×16×16 "));
        foreach (var kind in new[] { "TF32", "bf16 inputs", "f64" }) Assert.Contains(kind, text);
    }

    private static string Print(Report report)
    {
        var text = new StringWriter();
        report.Print(text);
        return text.ToString();
    }

    [Fact]
    public void TheReportIsWrittenAsMarkdownAndCsv()
    {
        var report = new Report();
        report.Add("parity", "a, \"quoted\" check", true, "detail");
        report.Add("memory", "flat", false, "grew");
        string dir = Path.Combine(Path.GetTempPath(), $"gpu-check-{Guid.NewGuid():N}");
        try
        {
            report.Write(dir, ["Device: test."]);
            var md = File.ReadAllText(Path.Combine(dir, "gpu-check.md"));
            Assert.Contains("Device: test.", md);
            Assert.Contains("2 checks, 1 failed", md);
            var csv = File.ReadAllLines(Path.Combine(dir, "gpu-check.csv"));
            Assert.Equal(["section,check,status,detail", "parity,\"a, \"\"quoted\"\" check\",ok,detail", "memory,flat,FAIL,grew"], csv);
        }
        finally { Directory.Delete(dir, true); }
    }
}
