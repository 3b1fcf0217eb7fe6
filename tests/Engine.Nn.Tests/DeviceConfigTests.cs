using Engine.Nn.Training;

namespace Engine.Nn.Tests;

/// <summary>The device of a run: parsed from "cpu"/"cuda"/"cuda:N", stored in the training settings, absent in old checkpoints.</summary>
public class DeviceConfigTests
{
    [Theory]
    [InlineData("cpu", DeviceKind.Cpu, 0)]
    [InlineData("CUDA", DeviceKind.Cuda, 0)]
    [InlineData(" cuda:3 ", DeviceKind.Cuda, 3)]
    public void DevicesParse(string text, DeviceKind kind, int index) => Assert.Equal(new Device(kind, index), Device.Parse(text));

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:1x")]
    [InlineData("cpu:0")]
    [InlineData("")]
    public void BadDevicesNameTheAcceptedForms(string text)
    {
        var e = Assert.Throws<FormatException>(() => Device.Parse(text));
        Assert.Equal($"'{text}' is not a device; expected cpu, cuda or cuda:N (N the device index, from 0)", e.Message);
    }

    [Fact]
    public void TheDeviceRoundTripsThroughJsonAsAString()
    {
        var config = new TrainerConfig { Device = Device.Cuda(2) };
        var json = config.ToJson();
        Assert.Contains("\"Device\": \"cuda:2\"", json);
        Assert.Equal(config, TrainerConfig.FromJson(json));
    }

    [Fact]
    public void ConfigsWrittenBeforeTheDeviceExistedLoadAsCpuRuns()
    {
        var json = System.Text.Json.Nodes.JsonNode.Parse(new TrainerConfig { Steps = 7 }.ToJson())!.AsObject();
        json.Remove("Device");
        var config = TrainerConfig.FromJson(json.ToJsonString());
        Assert.Equal(Device.Cpu, config.Device);
        Assert.Equal(7, config.Steps);
    }

    [Fact]
    public void ABadStoredDeviceIsAJsonError()
    {
        var json = new TrainerConfig().ToJson().Replace("\"cpu\"", "\"gpu\"");
        Assert.Throws<System.Text.Json.JsonException>(() => TrainerConfig.FromJson(json));
    }

    [Fact]
    public void ATrainerOnADeviceWithoutABackendSaysHowToGetOne()
    {
        var data = Engine.Nn.Data.TextDataset.Synthetic(new Engine.Nn.Data.SyntheticCorpusOptions { Seed = 1, Characters = 2000 });
        var e = Assert.Throws<InvalidOperationException>(() =>
            new Trainer(new GptConfig { ContextLength = 8, Layers = 1, Heads = 1, ModelDim = 8 }, new TrainerConfig { Device = Device.Cuda(40), EvalTokens = 64 }, data));
        Assert.Contains("CudaBackend.Register()", e.Message);
    }
}
