using Engine.Cuda.Tests.Emulation;
using Engine.Examples.Gpt;
using Engine.Nn.Checkpoints;
using Engine.Nn.Training;
using Spectre.Console;

namespace Engine.Cuda.Tests;

/// <summary>
/// The gpt command line on the emulated device: <c>--device cuda:63</c> names the device whose backend the test
/// registered, so train, eval and sample take the code path of <c>--device cuda</c> on a GPU machine (only the
/// backend's lookup differs).
/// </summary>
public class EmulatedCliTests
{
    private static (int Code, string Error) Gpt(params string[] args)
    {
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(new StringWriter()),
        });
        int code = GptApp.Run(args, TestContext.Current.CancellationToken, console, error);
        return (code, error.ToString().TrimEnd());
    }

    [Fact]
    public void TrainEvalAndSampleRunOnTheEmulatedDevice()
    {
        _ = HostEmulator.Registered;
        string device = HostEmulator.Device.ToString();
        using var dir = new TempDir();
        string run = System.IO.Path.Combine(dir.Path, "run");
        var train = Gpt("train", "--device", device, "--out", run, "--steps", "3", "--context", "8", "--layers", "1", "--heads", "1", "--dim", "8",
            "--batch", "2", "--synthetic-chars", "3000", "--eval-interval", "0", "--eval-tokens", "32", "--warmup", "1");
        Assert.True(train.Code == 0, train.Error);
        Assert.Equal(HostEmulator.Device, TrainerConfig.FromJson(Checkpoint.Open(run).Metadata.TrainingJson!).Device);

        foreach (var d in new[] { device, "cpu" })
        {
            var csv = System.IO.Path.Combine(dir.Path, $"eval-{d.Replace(':', '-')}.csv");
            var eval = Gpt("eval", "--device", d, "--checkpoint", run, "--lengths", "8,16", "--eval-tokens", "32", "--csv", csv);
            Assert.True(eval.Code == 0, eval.Error);
        }
        double Loss(string d) => double.Parse(File.ReadAllLines(System.IO.Path.Combine(dir.Path, $"eval-{d.Replace(':', '-')}.csv"))[1].Split(',')[5], System.Globalization.CultureInfo.InvariantCulture);
        TestData.Close([Loss("cpu")], [Loss(device)], DType.Float32, "eval loss on the device against the CPU", scale: 10);

        var sample = Gpt("sample", "--device", device, "--checkpoint", run, "--tokens", "4", "--temperature", "0");
        Assert.True(sample.Code == 0, sample.Error);

        var resume = Gpt("train", "--device", "cpu", "--out", run, "--resume", "--steps", "4");
        Assert.True(resume.Code == 0, resume.Error);
    }
}
