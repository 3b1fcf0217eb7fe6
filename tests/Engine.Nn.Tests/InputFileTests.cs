using System.Diagnostics;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;

namespace Engine.Nn.Tests;

/// <summary>Devices, FIFOs and oversized files as inputs are quick, clear errors: no hang, no out-of-memory abort.</summary>
public class InputFileTests
{
    private static void MakeFifo(string path)
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "FIFOs are a Unix feature");
        using var p = Process.Start(new ProcessStartInfo("mkfifo", path) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
    }

    /// <summary>Runs <paramref name="action"/> on a worker so that a regression (a blocking open) fails the test instead of hanging it.</summary>
    private static Exception ThrowsQuickly(Action action)
    {
        var task = Task.Run(() => Record.Exception(action), TestContext.Current.CancellationToken);
        Assert.True(task.Wait(TimeSpan.FromSeconds(20), TestContext.Current.CancellationToken), "the read blocked");
        return Assert.IsAssignableFrom<Exception>(task.Result);
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/urandom")]
    public void DevicesAreRejectedAsCorpusFiles(string device)
    {
        Assert.SkipUnless(File.Exists(device), $"{device} does not exist here");
        var e = Assert.IsType<IOException>(ThrowsQuickly(() => TextDataset.FromFile(device)));
        Assert.Equal($"dataset: corpus file '{device}' has a size of 0: it is empty, or a device or pipe rather than a regular file", e.Message);
    }

    [Fact]
    public void FifosAreRejectedAsCorpusCheckpointAndPointer()
    {
        using var dir = new TempDir();
        MakeFifo(dir["fifo"]);
        Assert.Contains("has a size of 0: it is empty, or a device or pipe", ThrowsQuickly(() => TextDataset.FromFile(dir["fifo"])).Message);
        MakeFifo(dir[Checkpoint.MetadataFile]);
        Assert.Contains("has a size of 0", Assert.IsType<CheckpointException>(ThrowsQuickly(() => Checkpoint.Open(dir.Path))).Message);
        File.Delete(dir[Checkpoint.MetadataFile]);
        MakeFifo(dir[CheckpointStore.LatestFile]);
        Assert.Contains("has a size of 0", Assert.IsType<CheckpointException>(ThrowsQuickly(() => Checkpoint.Open(dir.Path))).Message);
        MakeFifo(dir[Checkpoint.ModelFile]);
        Assert.Contains("has a size of 0", Assert.IsType<CheckpointException>(ThrowsQuickly(() => SafeTensors.Open(dir[Checkpoint.ModelFile]))).Message);
    }

    [Fact]
    public void AFileOverTheLimitNamesTheLimit()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["big.txt"], new string('a', 5000));
        var e = Assert.Throws<InputTooLargeException>(() => TextDataset.FromFile(dir["big.txt"], maxBytes: 4096));
        Assert.Equal($"dataset: corpus file '{dir["big.txt"]}' has 5,000 bytes, more than the limit of 4,096 bytes", e.Message);
        Assert.Equal(4096, e.Limit);
        Assert.Equal(5000, TextDataset.FromFile(dir["big.txt"], maxBytes: 5000).Tokens.Length);
    }

    [Fact]
    public void AFileSourceRecordsTheAbsolutePath()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir["c.txt"], "abcabcabcabcabcabcabcabc");
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, dir["c.txt"]);
        Assert.Equal(dir["c.txt"], TextDataset.FromFile(relative).Source.Path);
    }
}
