using System.Text.Json;
using System.Text.Json.Serialization;

namespace Engine.Nn.Training;

/// <summary>
/// How to train: batch, steps, learning-rate schedule (linear warmup then cosine decay), AdamW settings, gradient
/// clipping, evaluation and checkpoint intervals, seed, threads and device. The model's shape (including the training context
/// length) is a <see cref="GptConfig"/>. Stored in each checkpoint as JSON.
/// </summary>
public sealed record TrainerConfig
{
    /// <summary>Windows per batch (B).</summary>
    public int BatchSize { get; init; } = 16;
    /// <summary>Total optimiser steps.</summary>
    public int Steps { get; init; } = 1000;
    /// <summary>Peak learning rate, reached after <see cref="WarmupSteps"/>.</summary>
    public double LearningRate { get; init; } = 3e-3;
    /// <summary>Learning rate at the last step (end of the cosine decay).</summary>
    public double MinLearningRate { get; init; } = 3e-4;
    /// <summary>Steps of linear warmup from 0.</summary>
    public int WarmupSteps { get; init; } = 50;
    /// <summary>Decoupled weight decay of matrices (biases, norms and embeddings are not decayed).</summary>
    public double WeightDecay { get; init; } = 0.1;
    /// <summary>AdamW β1.</summary>
    public double Beta1 { get; init; } = 0.9;
    /// <summary>AdamW β2.</summary>
    public double Beta2 { get; init; } = 0.95;
    /// <summary>AdamW ε.</summary>
    public double Eps { get; init; } = 1e-8;
    /// <summary>Largest global gradient norm (0 turns clipping off).</summary>
    public double GradClip { get; init; } = 1.0;
    /// <summary>Evaluate the validation loss every this many steps (and after the last); 0 only after the last.</summary>
    public int EvalInterval { get; init; } = 100;
    /// <summary>Validation tokens scored per evaluation (windows of the training context tiling the start of the validation text).</summary>
    public int EvalTokens { get; init; } = 8192;
    /// <summary>Write a checkpoint every this many steps (and after the last); 0 means at each evaluation.</summary>
    public int CheckpointInterval { get; init; }
    /// <summary>How many checkpoints to keep in the output directory.</summary>
    public int KeepCheckpoints { get; init; } = 2;
    /// <summary>Seed of the model initialisation, dropout and the batch sampler.</summary>
    public ulong Seed { get; init; } = 1;
    /// <summary>CPU threads per kernel (sets <see cref="EngineThreads.Count"/>); 0 leaves it as it is (all cores by default).</summary>
    public int Threads { get; init; }
    /// <summary>
    /// Arithmetic of the matrix products in the forward and backward passes and in validation (see <see cref="Autocast"/>):
    /// float32 (the default, and what checkpoints written before this setting existed read as), TF32 tensor cores on
    /// CUDA (float32 on the CPU), or bfloat16 autocast with float32 master weights (on the CPU an exact emulation,
    /// no faster). Stored in JSON as "Float32", "TF32" or "BFloat16".
    /// </summary>
    [JsonConverter(typeof(JsonStringEnumConverter<Precision>))]
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>
    /// Where the model, its batches and the optimiser state live (the CPU by default). Stored as "cpu" or "cuda:N";
    /// checkpoints written before this setting existed load as CPU runs. A CUDA device needs its backend registered
    /// (Engine.Cuda's <c>CudaBackend.Register()</c>). Checkpoints hold host copies, so a run may resume on another device.
    /// </summary>
    [JsonConverter(typeof(DeviceJsonConverter))]
    public Device Device { get; init; } = Device.Cpu;

    /// <summary>Throws a clear error naming every inconsistent setting.</summary>
    public void Validate()
    {
        var problems = new List<string>();
        if (BatchSize < 1) problems.Add($"BatchSize must be positive, got {BatchSize}");
        if (Steps < 1) problems.Add($"Steps must be positive, got {Steps}");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) problems.Add($"LearningRate must be a positive number, got {LearningRate}");
        bool learningRateValid = LearningRate > 0 && !double.IsInfinity(LearningRate);
        if (!(MinLearningRate >= 0) || (learningRateValid && MinLearningRate > LearningRate)) problems.Add($"MinLearningRate must be in [0, LearningRate], got {MinLearningRate}");
        if (WarmupSteps < 0) problems.Add($"WarmupSteps must not be negative, got {WarmupSteps}");
        if (!(WeightDecay >= 0)) problems.Add($"WeightDecay must not be negative, got {WeightDecay}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) problems.Add($"Beta1 and Beta2 must be in [0, 1), got {Beta1} and {Beta2}");
        if (!(Eps > 0)) problems.Add($"Eps must be positive, got {Eps}");
        if (!(GradClip >= 0)) problems.Add($"GradClip must not be negative (0 turns it off), got {GradClip}");
        if (EvalInterval < 0) problems.Add($"EvalInterval must not be negative, got {EvalInterval}");
        if (EvalTokens < 1) problems.Add($"EvalTokens must be positive, got {EvalTokens}");
        if (CheckpointInterval < 0) problems.Add($"CheckpointInterval must not be negative, got {CheckpointInterval}");
        if (KeepCheckpoints < 1) problems.Add($"KeepCheckpoints must be at least 1, got {KeepCheckpoints}");
        if (Threads < 0) problems.Add($"Threads must not be negative (0 keeps the default), got {Threads}");
        if (!Enum.IsDefined(Precision)) problems.Add($"Precision must be Float32, TF32 or BFloat16, got {(int)Precision}");
        if (problems.Count > 0) throw new ArgumentException("trainer config: " + string.Join("; ", problems));
    }

    /// <summary>The configuration as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, TrainerConfigJson.Default.TrainerConfig);

    /// <summary>Parses and validates a configuration written by <see cref="ToJson"/>.</summary>
    public static TrainerConfig FromJson(string json)
    {
        var config = JsonSerializer.Deserialize(json, TrainerConfigJson.Default.TrainerConfig)
            ?? throw new ArgumentException("trainer config: the JSON is null");
        config.Validate();
        return config;
    }
}

/// <summary>Source-generated JSON metadata for <see cref="TrainerConfig"/> (trimming- and AOT-safe).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(TrainerConfig))]
public sealed partial class TrainerConfigJson : JsonSerializerContext;

/// <summary>Writes a <see cref="Engine.Device"/> as "cpu" or "cuda:N" and reads it back with <see cref="Engine.Device.Parse"/>.</summary>
public sealed class DeviceJsonConverter : JsonConverter<Device>
{
    /// <inheritdoc/>
    public override Device Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException($"a device must be a string ({Device.Forms})");
        try { return Device.Parse(reader.GetString()!); }
        catch (FormatException e) { throw new JsonException(e.Message, e); }
    }

    /// <inheritdoc/>
    public override void Write(Utf8JsonWriter writer, Device value, JsonSerializerOptions options) => writer.WriteStringValue(value.ToString());
}
