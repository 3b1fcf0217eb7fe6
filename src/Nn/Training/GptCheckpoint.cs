using Engine.Nn.Checkpoints;
using Engine.Nn.Data;

namespace Engine.Nn.Training;

/// <summary>A model restored from a checkpoint, with what is needed to use it: its tokenizer and data source.</summary>
/// <param name="Model">The model, in eval mode.</param>
/// <param name="Tokenizer">The tokenizer it was trained with.</param>
/// <param name="Checkpoint">The opened checkpoint (metadata, directory).</param>
/// <remarks>
/// Threading: the tokenizer and metadata are read-only; the model may serve inference from many threads (see
/// <see cref="Gpt"/>) once loaded. <see cref="GptCheckpoint.Load"/> itself may run concurrently for different models.
/// </remarks>
public sealed record LoadedModel(Gpt Model, Tokenizer Tokenizer, CheckpointReader Checkpoint);

/// <summary>Reads <see cref="Gpt"/> models from checkpoints written by <see cref="Trainer"/>.</summary>
public static class GptCheckpoint
{
    /// <summary>
    /// Opens a checkpoint (a checkpoint directory or a run directory with a <c>latest</c> pointer), checks the stored
    /// configuration against the weights file's header (every tensor's name, dtype and shape) and only then builds the
    /// model and loads its weights, so an untrusted checkpoint can make it allocate no more than its weights file holds.
    /// </summary>
    /// <param name="path">A checkpoint directory or a run directory.</param>
    /// <param name="adjust">
    /// Changes to the stored configuration that keep the parameters' shapes, e.g. an inference-only attention
    /// (<c>c => c with { InferenceAttention = AttentionSpec.Lssar }</c>).
    /// </param>
    /// <param name="device">
    /// Where the model goes (the CPU by default); checkpoints hold host copies of the weights, so one written on any
    /// device loads on any other.
    /// </param>
    /// <exception cref="CheckpointException">The checkpoint is missing, corrupted, or its weights do not fit its configuration.</exception>
    public static LoadedModel Load(string path, Func<GptConfig, GptConfig>? adjust = null, Device? device = null)
    {
        var reader = Checkpoint.Open(path);
        var config = ReadConfig(reader, adjust);
        var specs = SpecsOf(config);
        reader.CheckModel(specs);
        var model = new Gpt(config);
        model.LoadStateDict(reader.ReadModel(specs));
        if (device is { } d) model.To(d);
        model.Eval();
        return new LoadedModel(model, reader.Metadata.Tokenizer, reader);
    }

    /// <summary>The stored model configuration, validated (bounds included) and checked against the tokenizer; nothing is allocated.</summary>
    internal static GptConfig ReadConfig(CheckpointReader reader, Func<GptConfig, GptConfig>? adjust = null)
    {
        GptConfig config;
        try { config = GptConfig.FromJson(reader.Metadata.ModelJson); }
        catch (Exception e) when (e is ArgumentException or System.Text.Json.JsonException or NotSupportedException)
        {
            throw new CheckpointException($"{reader.Directory}: the model configuration is invalid ({e.Message})", e);
        }
        if (config.VocabSize != reader.Metadata.Tokenizer.VocabSize)
            throw new CheckpointException($"{reader.Directory}: the model has a vocabulary of {config.VocabSize} but the stored tokenizer {reader.Metadata.Tokenizer.Describe()} has {reader.Metadata.Tokenizer.VocabSize} ids");
        if (adjust is not null) config = adjust(config);
        return config;
    }

    /// <summary>The expected dtype (float32) and shape of every parameter of a model of <paramref name="config"/>, computed without building it.</summary>
    public static Dictionary<string, TensorSpec> SpecsOf(GptConfig config) =>
        Gpt.ParameterShapes(config).ToDictionary(p => p.Key, p => new TensorSpec(DType.Float32, p.Value), StringComparer.Ordinal);

    /// <summary>The expected dtype and shape of every tensor of a state dict.</summary>
    public static Dictionary<string, TensorSpec> SpecsOf(IReadOnlyDictionary<string, Tensor> state) =>
        state.ToDictionary(p => p.Key, p => TensorSpec.Of(p.Value), StringComparer.Ordinal);
}
