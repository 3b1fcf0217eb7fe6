using System.Diagnostics;
using System.Text.Json;
using Engine.Nn.Checkpoints;
using Engine.Nn.Data;
using Engine.Nn.Evaluation;

namespace Engine.Nn.Training;

/// <summary>What one optimiser step did.</summary>
/// <param name="Step">Steps done after this one (1 after the first).</param>
/// <param name="Loss">Mean cross-entropy of the batch before the update (nats per token).</param>
/// <param name="LearningRate">The learning rate used.</param>
/// <param name="GradNorm">Global gradient norm before clipping (NaN when clipping is off).</param>
/// <param name="TokensPerSecond">B·T divided by the step's wall time.</param>
public sealed record StepResult(int Step, double Loss, double LearningRate, double GradNorm, double TokensPerSecond);

/// <summary>Progress of a run, reported after every step.</summary>
/// <param name="Step">Steps done.</param>
/// <param name="Steps">Total steps.</param>
/// <param name="Result">The step just taken.</param>
/// <param name="ValidationLoss">The validation loss when this step was evaluated, else null.</param>
/// <param name="Elapsed">Wall time since <see cref="Trainer.Run"/> started.</param>
/// <param name="Remaining">Estimated time to the last step, from the mean step time of this run.</param>
public sealed record TrainingProgress(int Step, int Steps, StepResult Result, double? ValidationLoss, TimeSpan Elapsed, TimeSpan Remaining);

/// <summary>The outcome of <see cref="Trainer.Run"/>.</summary>
/// <param name="Steps">Steps done in total.</param>
/// <param name="FinalTrainLoss">Loss of the last batch.</param>
/// <param name="FinalValidationLoss">Validation loss after the last step.</param>
/// <param name="MillisecondsPerStep">Mean wall time of a training step in this run (evaluation excluded).</param>
/// <param name="LastCheckpoint">Directory of the last checkpoint written, or null.</param>
public sealed record TrainingSummary(int Steps, double FinalTrainLoss, double FinalValidationLoss, double MillisecondsPerStep, string? LastCheckpoint);

/// <summary>
/// Trains a <see cref="Gpt"/> on a <see cref="TextDataset"/>: each step samples a batch of random windows, runs the
/// model, takes the fused cross-entropy, back-propagates, clips the global gradient norm and takes an AdamW step
/// with the learning rate of a warmup + cosine schedule. It evaluates the validation loss periodically, writes a CSV
/// log and atomic checkpoints to an output directory, and resumes from a checkpoint exactly: on the CPU a run
/// interrupted and resumed produces the same losses, bit for bit, as an uninterrupted one (same thread count).
/// <para>
/// Other experiments reuse it: construct one per model, call <see cref="Run"/> (or <see cref="TrainStep"/> in a loop),
/// then <see cref="Validate"/> or an <see cref="Evaluator"/> at any length.
/// </para>
/// </summary>
public sealed class Trainer
{
    private const string LogFile = "log.csv";
    private readonly Evaluator evaluator;

    /// <summary>A fresh run. The model's vocabulary size is taken from the dataset's tokenizer.</summary>
    /// <param name="model">The model shape; <see cref="GptConfig.ContextLength"/> is the training window.</param>
    /// <param name="config">Training settings.</param>
    /// <param name="data">The corpus.</param>
    /// <param name="outputDirectory">Where checkpoints and log.csv go; null writes nothing.</param>
    /// <param name="batches">
    /// Wraps the default sampler of random training windows into another batch source (e.g. a
    /// <see cref="PasskeyBatchSampler"/>); its state is what checkpoints save, so it must be reproducible from it.
    /// </param>
    /// <exception cref="ArgumentException">The batch source's batch size or context differs from the configuration's.</exception>
    public Trainer(GptConfig model, TrainerConfig config, TextDataset data, string? outputDirectory = null, Func<BatchSampler, IBatchSource>? batches = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(data);
        config.Validate();
        model = model with { VocabSize = data.Tokenizer.VocabSize };
        model.Validate();
        if (config.Threads > 0) EngineThreads.Count = config.Threads;
        Config = config;
        Data = data;
        OutputDirectory = outputDirectory;
        Model = new Gpt(model, DeriveSeed(config.Seed, 1));
        Model.To(config.Device);   // before the optimiser, so its moments live there too
        Model.Train();
        Optimizer = new AdamW(ParamGroup.DecayAndNoDecay(Model, config.WeightDecay), config.LearningRate, config.Beta1, config.Beta2, config.Eps);
        var windows = new BatchSampler(data.Train, config.BatchSize, model.ContextLength, DeriveSeed(config.Seed, 2));
        Sampler = batches is null ? windows : batches(windows);
        if (Sampler.BatchSize != config.BatchSize || Sampler.Context != model.ContextLength)
            throw new ArgumentException($"trainer: the batch source draws [{Sampler.BatchSize}, {Sampler.Context}] batches, expected [{config.BatchSize}, {model.ContextLength}] (batch size, context)");
        Schedule = new WarmupCosineSchedule(config.LearningRate, Math.Min(config.WarmupSteps, config.Steps), config.Steps, config.MinLearningRate);
        evaluator = new Evaluator(data.Validation, model.ContextLength, config.EvalTokens, tokenBytes: data.ValidationBytes);
    }

    /// <summary>The model being trained.</summary>
    public Gpt Model { get; }
    /// <summary>The optimiser.</summary>
    public AdamW Optimizer { get; }
    /// <summary>The source of training batches (random windows of the training tokens unless wrapped).</summary>
    public IBatchSource Sampler { get; }
    /// <summary>The learning-rate schedule.</summary>
    public WarmupCosineSchedule Schedule { get; }
    /// <summary>The corpus.</summary>
    public TextDataset Data { get; }
    /// <summary>The training settings.</summary>
    public TrainerConfig Config { get; }
    /// <summary>Where checkpoints and the log go (null: nowhere).</summary>
    public string? OutputDirectory { get; }
    /// <summary>Steps done so far.</summary>
    public int Step { get; private set; }
    /// <summary>Called after every step of <see cref="Run"/>.</summary>
    public Action<TrainingProgress>? Progress { get; set; }

    /// <summary>A seed for one purpose (1: weights, 2: batches; others are free for callers) derived from the run's seed.</summary>
    public static ulong DeriveSeed(ulong seed, ulong purpose) => new Rng(seed ^ (purpose * 0x9E3779B97F4A7C15UL)).NextUInt64();

    /// <summary>One optimiser step on the next batch.</summary>
    /// <exception cref="InvalidOperationException">The loss or the gradient norm is not finite (training diverged).</exception>
    public StepResult TrainStep()
    {
        var clock = Stopwatch.StartNew();
        // Everything the step creates (the uploaded batch, activations, gradients, casts) is freed when it ends, so
        // device memory stays flat instead of waiting for the garbage collector; parameters, optimiser state and
        // module caches were created outside the scope, and the gradients are dropped by ZeroGrad below.
        using var scope = StorageScope.Begin();
        double lossValue, norm, seconds, lr = Schedule.At(Step);
        try
        {
            var batch = Sampler.Next();
            Optimizer.LearningRate = lr;
            // The batch is built on the host; its ids go to the model's device once (the device backend keeps the
            // uploaded ids, so the embedding's and the loss's range checks read nothing back). The precision scope covers
            // the forward and the backward (TF32 applies to the backward's GEMMs too); bfloat16 autocast casts the matmul
            // operands in the forward, and their backward multiplies in bfloat16 as well.
            var device = Model.Device;
            Tensor loss;
            using (Autocast.Enter(Config.Precision))
            {
                loss = Model.Loss(batch.Inputs.To(device), batch.Targets.To(device), batch.IgnoreIndex);
                loss.Backward();
            }
            // The one read-back of the step: the loss, together with the squared gradient norm when clipping.
            norm = double.NaN;
            if (Config.GradClip > 0)
            {
                var parameters = Model.Parameters().ToList();
                var read = Tensor.Concat([loss.Detach().To(DType.Float64).Reshape(1), GradClip.SquaredNorm(parameters).To(device).Reshape(1)], 0).ToArray<double>();
                lossValue = read[0];
                norm = Math.Sqrt(read[1]);
                if (double.IsFinite(lossValue) && !double.IsFinite(norm))
                    throw new InvalidOperationException($"training: the gradient norm is {norm} at step {Step + 1} (loss {lossValue:G6}); training diverged, lower the learning rate");
                if (double.IsFinite(lossValue)) GradClip.ScaleToNorm(parameters, norm, Config.GradClip);
            }
            else lossValue = loss.Item();
            if (!double.IsFinite(lossValue))
                throw new InvalidOperationException($"training: the loss is {lossValue} at step {Step + 1} (lr {lr:G4}); training diverged, lower the learning rate");
            Optimizer.Step();
            Step++;
            seconds = clock.Elapsed.TotalSeconds;
        }
        finally
        {
            // The step's gradients die with its scope: never leave a parameter pointing at a freed one.
            Optimizer.ZeroGrad();
        }
        return new StepResult(Step, lossValue, lr, norm, Config.BatchSize * (double)Model.Config.ContextLength / Math.Max(seconds, 1e-9));
    }

    /// <summary>
    /// Mean validation loss over <see cref="TrainerConfig.EvalTokens"/> tokens in windows of the training context,
    /// or of <paramref name="length"/> when given (then over at least one window); the model runs in eval mode and
    /// its mode is restored.
    /// </summary>
    public double Validate(int? length = null)
    {
        var ev = length is { } l && l != evaluator.Length ? new Evaluator(Data.Validation, l, Math.Max(Config.EvalTokens, l), tokenBytes: Data.ValidationBytes) : evaluator;
        using (Autocast.Enter(Config.Precision)) return ev.Evaluate(Model);
    }

    /// <summary>
    /// Trains until <see cref="TrainerConfig.Steps"/>, evaluating, logging and checkpointing as configured.
    /// Cancelling stops after the current step and writes a checkpoint (when there is an output directory).
    /// </summary>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        TrainingLog? log = null;
        string? last = null;
        if (OutputDirectory is not null)
        {
            Directory.CreateDirectory(OutputDirectory);
            log = TrainingLog.Open(Path.Combine(OutputDirectory, LogFile), Step);
        }
        try
        {
            var clock = Stopwatch.StartNew();
            double trainSeconds = 0;
            int firstStep = Step;
            StepResult? result = null;
            double valLoss = double.NaN;
            int checkpointEvery = Config.CheckpointInterval > 0 ? Config.CheckpointInterval : Config.EvalInterval;
            while (Step < Config.Steps && !cancellation.IsCancellationRequested)
            {
                var before = clock.Elapsed;
                result = TrainStep();
                trainSeconds += (clock.Elapsed - before).TotalSeconds;
                bool lastStep = Step == Config.Steps;
                double? val = null;
                if (lastStep || (Config.EvalInterval > 0 && Step % Config.EvalInterval == 0))
                    val = valLoss = Validate();
                log?.Append(Step, result.Loss, val, result.LearningRate, result.TokensPerSecond);
                if (OutputDirectory is not null && (lastStep || (checkpointEvery > 0 && Step % checkpointEvery == 0)))
                    last = SaveCheckpoint();
                if (Progress is { } report)
                {
                    int done = Step - firstStep;
                    var perStep = clock.Elapsed / Math.Max(done, 1);
                    report(new TrainingProgress(Step, Config.Steps, result, val, clock.Elapsed, perStep * (Config.Steps - Step)));
                }
            }
            if (cancellation.IsCancellationRequested && OutputDirectory is not null && result is not null && Step < Config.Steps)
                last = SaveCheckpoint();
            int steps = Step - firstStep;
            if (result is null) valLoss = Validate();   // nothing left to train: still report where the model stands
            return new TrainingSummary(Step, result?.Loss ?? double.NaN, valLoss, steps > 0 ? trainSeconds * 1000 / steps : double.NaN, last);
        }
        finally
        {
            log?.Dispose();
        }
    }

    /// <summary>Writes a checkpoint of the current state to <see cref="OutputDirectory"/> atomically and returns its directory.</summary>
    /// <exception cref="InvalidOperationException">There is no output directory.</exception>
    public string SaveCheckpoint()
    {
        if (OutputDirectory is null) throw new InvalidOperationException("trainer: no output directory to write a checkpoint to");
        var store = new CheckpointStore(OutputDirectory, Config.KeepCheckpoints);
        var metadata = new CheckpointMetadata
        {
            Step = Step,
            ModelJson = Model.Config.ToJson(),
            Tokenizer = Data.Tokenizer,
            Data = Data.Source,
            Sampler = Sampler.State,
            RngStates = new Dictionary<string, ulong[]> { ["dropout"] = Model.DropoutRng.State },
            TrainingJson = Config.ToJson(),
            OptimizerJson = OptimizerJson(),
        };
        return Checkpoint.Save(store, metadata, Model.StateDict().ToList(), Optimizer.StateDict().ToList());
    }

    private string OptimizerJson()
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("name", Optimizer.Name);
            w.WriteNumber("step", Optimizer.StepCount);
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Continues a run from a checkpoint: the model, optimiser, sampler and dropout generator are restored, so the
    /// next steps are exactly those the interrupted run would have taken.
    /// </summary>
    /// <param name="checkpoint">A checkpoint directory or a run directory (its latest checkpoint).</param>
    /// <param name="adjust">Changes to the stored training settings, e.g. more steps (the schedule follows the new total).</param>
    /// <param name="data">The corpus; null rebuilds it from the stored source (and checks a file's hash).</param>
    /// <param name="outputDirectory">Where to write; null means the run directory the checkpoint is in.</param>
    /// <param name="batches">The same batch-source wrapper the run was started with (see the constructor), or null.</param>
    /// <param name="maxDataBytes">The largest corpus file read when <paramref name="data"/> is null.</param>
    /// <exception cref="CheckpointException">The checkpoint is missing, corrupted, or does not fit its configuration.</exception>
    public static Trainer Resume(string checkpoint, Func<TrainerConfig, TrainerConfig>? adjust = null, TextDataset? data = null, string? outputDirectory = null,
        Func<BatchSampler, IBatchSource>? batches = null, long maxDataBytes = TextDataset.DefaultMaxFileBytes)
    {
        var reader = Checkpoint.Open(checkpoint);
        var meta = reader.Metadata;
        if (meta.TrainingJson is null || meta.Sampler is null)
            throw new CheckpointException($"{reader.Directory}: has no training state (training settings and sampler), so it cannot be resumed");
        TrainerConfig config;
        GptConfig model;
        try
        {
            config = TrainerConfig.FromJson(meta.TrainingJson);
            model = GptConfig.FromJson(meta.ModelJson);
        }
        catch (Exception e) when (e is ArgumentException or JsonException or NotSupportedException)
        {
            throw new CheckpointException($"{reader.Directory}: stored configuration is invalid ({e.Message})", e);
        }
        if (adjust is not null) config = adjust(config);
        // The weights must fit the configuration before anything (data, model, optimiser) is allocated for it.
        reader.CheckModel(GptCheckpoint.SpecsOf(model));
        data ??= TextDataset.Load(meta.Data, meta.Tokenizer, maxBytes: maxDataBytes);
        if (!data.Tokenizer.SameAs(meta.Tokenizer))
            throw new CheckpointException($"{reader.Directory}: the checkpoint was trained with the {meta.Tokenizer.Describe()} tokenizer, but the dataset is tokenized with {data.Tokenizer.Describe()}");
        outputDirectory ??= Path.GetDirectoryName(Path.GetFullPath(reader.Directory));
        var trainer = new Trainer(model, config, data, outputDirectory, batches);
        if (trainer.Model.Config != model)
            throw new CheckpointException($"{reader.Directory}: the stored model configuration does not match its tokenizer");
        trainer.Model.LoadStateDict(reader.ReadModel(GptCheckpoint.SpecsOf(trainer.Model.StateDict())));
        try { trainer.Optimizer.LoadStateDict(reader.ReadOptimizer(GptCheckpoint.SpecsOf(trainer.Optimizer.StateDict()))); }
        catch (ArgumentException e) { throw new CheckpointException($"{reader.Directory}: {e.Message}", e); }
        trainer.Sampler.Restore(meta.Sampler);
        if (meta.RngStates.TryGetValue("dropout", out var dropout)) trainer.Model.DropoutRng.State = dropout;
        if (trainer.Optimizer.StepCount != meta.Step)
            throw new CheckpointException($"{reader.Directory}: the optimiser has taken {trainer.Optimizer.StepCount} steps but the checkpoint is at step {meta.Step}");
        trainer.Step = checked((int)meta.Step);
        return trainer;
    }
}
