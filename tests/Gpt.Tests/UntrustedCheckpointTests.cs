using System.Text.Json.Nodes;

namespace Engine.Examples.Gpt.Tests;

/// <summary>A checkpoint is untrusted input: absurd metadata is a quick one-line error, never a huge allocation.</summary>
public class UntrustedCheckpointTests
{
    private static string TrainTiny(TempDir dir)
    {
        Assert.Equal(0, Cli.Run(ResumeTests.Tiny(dir["run"], "--steps", "2")).ExitCode);
        return Path.Combine(dir["run"], "step-00000002", "checkpoint.json");
    }

    private static void Edit(string file, Action<JsonNode> edit)
    {
        var json = JsonNode.Parse(File.ReadAllText(file))!;
        edit(json);
        File.WriteAllText(file, json.ToJsonString());
    }

    [Fact]
    public void AHugeModelDimIsRejectedAgainstTheWeightsFile()
    {
        using var dir = new TempDir();
        string meta = TrainTiny(dir);
        Edit(meta, j => j["model"]!["ModelDim"] = 8192);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = Cli.Run("sample", "--checkpoint", dir["run"], "--tokens", "5");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64L << 20, "the model was allocated before the check");
        Assert.Equal(1, r.ExitCode);
        string weights = Path.Combine(Path.GetDirectoryName(meta)!, "model.safetensors");
        Assert.Equal($"gpt: {weights}: tensor 'token_embedding.weight' has shape [44, 8] in the file, the model configuration in checkpoint.json expects [44, 8192]", r.Error);
    }

    [Fact]
    public void AbsurdLayersFailValidationAtOnce()
    {
        using var dir = new TempDir();
        string meta = TrainTiny(dir);
        Edit(meta, j => j["model"]!["Layers"] = 10_000_000);
        var r = Cli.Run("sample", "--checkpoint", dir["run"], "--tokens", "5");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"gpt: {Path.GetDirectoryName(meta)}: the model configuration is invalid (gpt config: Layers must be in 1..1024, got 10000000)", r.Error);
    }

    [Fact]
    public void ARecordedDataPathThatIsADeviceIsAnError()
    {
        Assert.SkipUnless(File.Exists("/dev/zero"), "no /dev/zero here");
        using var dir = new TempDir();
        string meta = TrainTiny(dir);
        Edit(meta, j => j["data"] = new JsonObject { ["kind"] = "file", ["path"] = "/dev/zero" });
        var r = Cli.Run("eval", "--checkpoint", dir["run"], "--lengths", "8");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: dataset: corpus file '/dev/zero' has a size of 0: it is empty, or a device or pipe rather than a regular file", r.Error);
        r = Cli.Run("train", "--out", dir["run"], "--resume", "--steps", "3");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("gpt: dataset: corpus file '/dev/zero' has a size of 0: it is empty, or a device or pipe rather than a regular file", r.Error);
    }
}
