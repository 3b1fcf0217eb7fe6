using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Mean cross-entropy of <paramref name="logits"/> [..., classes] (e.g. [N, V] or [B, T, V]) against int32 class
    /// <paramref name="targets"/> of shape [...], fused: loss = mean over counted rows of (logsumexp(row) − row[target]),
    /// computed stably (max subtracted). Rows whose target equals <paramref name="ignoreIndex"/> are not counted.
    /// The backward is (softmax − onehot(target)) / count on counted rows and zero elsewhere.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, int? ignoreIndex = null)
    {
        const string op = "cross_entropy";
        logits.RequireFloat(op);
        if (logits.Rank < 1 || logits.Dim(-1) == 0)
            throw new ArgumentException($"{op}: logits must be [..., classes] with at least one class, got {Shapes.Format(logits.ShapeSpan)}");
        if (targets.DType != DType.Int32)
            throw new ArgumentException($"{op}: targets must be int32 class indices, got {targets.DType.Name()}");
        if (!Shapes.Equal(targets.ShapeSpan, logits.ShapeSpan[..^1]))
            throw new ArgumentException($"{op}: targets {Shapes.Format(targets.ShapeSpan)} must have the logits' shape without the class dim ({Shapes.Format(logits.ShapeSpan[..^1])}); logits are {Shapes.Format(logits.ShapeSpan)}");
        SameDevice(op, logits, targets);
        int cols = logits.Dim(-1), rows = logits.Count / cols;
        if (rows == 0) throw new ArgumentException($"{op}: no rows in logits {Shapes.Format(logits.ShapeSpan)}");
        int ignore = ignoreIndex ?? int.MinValue;
        var x = logits.Packed();
        var t = targets.Packed();
        var (loss, lse, count) = logits.Backend.CrossEntropyForward(x, t, rows, cols, ignore);
        if (ignoreIndex is null && count != rows)   // only a target equal to the int.MinValue sentinel can be skipped here
            throw new ArgumentException($"{op}: a target equals {int.MinValue}, outside [0, {cols}) (the number of classes)");
        if (count == 0)
            throw new ArgumentException($"{op}: all {rows} targets equal the ignore index {ignoreIndex}; the mean over zero tokens is undefined");
        var y = new Tensor(loss, []);
        return Graph.Output(y, op, () => new CrossEntropyNode(new Tensor(x, logits.ShapeSpan), new Tensor(t, [rows]), new Tensor(lse, [rows]), ignore, count), logits);
    }
}

/// <summary>
/// The target check every backend's cross-entropy kernel runs on the host, so a bad target fails with the same
/// message on every device. Public so that a backend outside this assembly can run it too.
/// </summary>
public static class CrossEntropyTargets
{
    /// <summary>Counts the rows that are not ignored; throws naming the first target outside [0, cols).</summary>
    public static int CountCounted(ReadOnlySpan<int> targets, int cols, int ignoreIndex)
    {
        int count = 0;
        for (int r = 0; r < targets.Length; r++)
        {
            if (targets[r] == ignoreIndex) continue;
            if ((uint)targets[r] >= (uint)cols)
                throw new ArgumentException($"cross_entropy: target {targets[r]} at row {r} is outside [0, {cols}) (the number of classes)");
            count++;
        }
        return count;
    }
}

/// <summary>d loss / d logits = (softmax(x) − onehot(t)) · g / count on counted rows; softmax is exp(x − lse) from the saved row log-sum-exp.</summary>
internal sealed class CrossEntropyNode(Tensor logits, Tensor targets, Tensor lse, int ignoreIndex, int count) : Node(logits, targets, lse)
{
    public override string Name => "cross_entropy";

    protected internal override Tensor?[] Backward(Tensor g)
    {
        Tensor x = Saved(0), t = Saved(1), lse = Saved(2);
        int cols = x.Dim(-1), rows = x.Count / cols;
        // The usual upstream gradient is Backward's seed of 1, known on the host; any other is applied on its
        // device, so the backward never waits for the device to read g.
        double scale = (g.KnownValue ?? 1.0) / count;
        var dx = new Tensor(x.Backend.CrossEntropyBackward(x.Storage, t.Storage, lse.Storage, rows, cols, ignoreIndex, scale), x.ShapeSpan);
        return [g.KnownValue is null ? dx.Mul(g) : dx];
    }
}

/// <summary>The composed slow reference for <see cref="Tensor.CrossEntropy"/>: LogSoftmax, Gather, masking and Sum.</summary>
public static class CrossEntropyReference
{
    /// <summary>−Σ_counted log_softmax(logits)[target] / count, built from primitive differentiable ops.</summary>
    public static Tensor Compute(Tensor logits, Tensor targets, int? ignoreIndex = null)
    {
        int cols = logits.Dim(-1);
        var flatLogits = logits.Reshape(-1, cols);
        var t = targets.ToArray<int>();
        var keep = new double[t.Length];
        int count = 0;
        for (int i = 0; i < t.Length; i++)
        {
            if (ignoreIndex is { } ig && t[i] == ig) { t[i] = 0; continue; }
            keep[i] = 1;
            count++;
        }
        var picked = flatLogits.LogSoftmax(-1).Gather(1, Tensor.FromArray<int>(t, [t.Length, 1], logits.Device)).Reshape(-1);
        var mask = Tensor.FromDoubles(keep, [t.Length], logits.DType, logits.Device);
        return picked.Mul(mask).Sum().MulScalar(-1.0 / count);
    }
}
