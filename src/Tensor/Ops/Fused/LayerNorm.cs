using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Layer normalisation over the last dim, fused: y = (x − mean)/√(var + eps) ⊙ weight + bias, with the biased
    /// variance. <paramref name="weight"/> and <paramref name="bias"/> are [last dim] or null (then 1 and 0).
    /// The forward saves each row's mean and 1/√(var + eps) for the handwritten backward.
    /// </summary>
    public Tensor LayerNorm(Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) => Norm(weight, bias, eps, rms: false, "layer_norm");

    private Tensor Norm(Tensor? weight, Tensor? bias, double eps, bool rms, string op)
    {
        RequireFloat(op);
        if (Rank == 0) throw new ArgumentException($"{op}: needs at least one dimension, got a scalar");
        if (!(eps >= 0) || double.IsInfinity(eps)) throw new ArgumentException($"{op}: eps must be a finite number ≥ 0, got {eps}");
        int cols = Dim(-1);
        if (cols == 0) throw new ArgumentException($"{op}: the normalised (last) dim of {Shapes.Format(ShapeSpan)} is empty");
        CheckVector(weight, cols, op, "weight");
        CheckVector(bias, cols, op, "bias");
        int rows = Count / cols;
        var x = Packed();
        var w = weight?.Packed();
        var (y, mean, rstd) = Backend.NormForward(x, w, bias?.Packed(), rows, cols, eps, rms);
        var output = new Tensor(y, ShapeSpan);
        Tensor[] inputs = [this, .. weight is null ? Array.Empty<Tensor>() : [weight], .. bias is null ? Array.Empty<Tensor>() : [bias]];
        return Graph.Output(output, op, () => new NormNode(
            new Tensor(x, ShapeSpan), w is null ? null : new Tensor(w, [cols]), bias is not null,
            new Tensor(mean, [rows]), new Tensor(rstd, [rows]), rms), inputs);
    }
}

/// <summary>
/// Backward of layer norm and RMS norm, one fused row kernel. With x̂ = (x − μ)·rstd and ĝ = g ⊙ w:
/// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂)) (RMS norm: μ = 0 and no mean(ĝ) term), dw = Σ_rows g ⊙ x̂, db = Σ_rows g.
/// Inputs are (x, weight?, bias?) in that order.
/// </summary>
internal sealed class NormNode(Tensor x, Tensor? weight, bool hasBias, Tensor mean, Tensor rstd, bool rms)
    : Node(weight is null ? [x, mean, rstd] : [x, mean, rstd, weight])
{
    public override string Name => rms ? "rms_norm" : "layer_norm";

    protected internal override Tensor?[] Backward(Tensor g)
    {
        Tensor x = Saved(0), mean = Saved(1), rstd = Saved(2);
        Tensor? w = weight is null ? null : Saved(3);
        int cols = x.Dim(-1), rows = x.Count / cols;
        var (dx, dw, db) = x.Backend.NormBackward(x.Storage, w?.Storage, hasBias, mean.Storage, rstd.Storage, g.Packed(), rows, cols, rms);
        var grads = new List<Tensor?> { new Tensor(dx, x.ShapeSpan) };
        if (w is not null) grads.Add(new Tensor(dw!, [cols]));
        if (hasBias) grads.Add(new Tensor(db!, [cols]));
        return [.. grads];
    }
}

/// <summary>Composed slow references for the fused normalisations, built from primitive differentiable ops.</summary>
public static class NormReference
{
    /// <summary>Layer norm from Mean, Sub, Variance, Rsqrt, Mul and Add; gradients come from autograd.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        var centred = x.Sub(x.Mean(-1, keepDim: true));
        var y = centred.Mul(centred.Square().Mean(-1, keepDim: true).AddScalar(eps).Rsqrt());
        if (weight is not null) y = y.Mul(weight);
        if (bias is not null) y = y.Add(bias);
        return y;
    }

    /// <summary>RMS norm from Square, Mean, Rsqrt and Mul; gradients come from autograd.</summary>
    public static Tensor RMSNorm(Tensor x, Tensor? weight = null, double eps = 1e-5)
    {
        var y = x.Mul(x.Square().Mean(-1, keepDim: true).AddScalar(eps).Rsqrt());
        return weight is null ? y : y.Mul(weight);
    }
}
