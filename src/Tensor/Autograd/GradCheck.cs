using System.Text;
using Engine.Cpu;

namespace Engine.Autograd;

/// <summary>Worst disagreement between analytic and numeric gradients for one input.</summary>
/// <param name="Input">Position of the input in the list passed to the check.</param>
/// <param name="Shape">The input's shape.</param>
/// <param name="MaxAbsError">Largest |analytic − numeric| over the checked elements or directions.</param>
/// <param name="MaxRelError">Largest |analytic − numeric| / max(|analytic|, |numeric|, 1e-12).</param>
/// <param name="WorstIndex">Multi-index (or direction number) where the worst error occurs.</param>
/// <param name="Analytic">Analytic value at the worst index.</param>
/// <param name="Numeric">Numeric value at the worst index.</param>
/// <param name="Passed">Whether every element was within tolerance.</param>
public sealed record InputReport(int Input, int[] Shape, double MaxAbsError, double MaxRelError, int[] WorstIndex, double Analytic, double Numeric, bool Passed)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"input {Input} {Shapes.Format(Shape)}: max abs err {MaxAbsError:E3}, max rel err {MaxRelError:E3} at {Shapes.Format(WorstIndex)} (analytic {Analytic:G10}, numeric {Numeric:G10}){(Passed ? "" : "  FAILED")}";
}

/// <summary>The outcome of a gradient check: one report per input that requires a gradient.</summary>
public sealed record GradCheckResult(IReadOnlyList<InputReport> Inputs)
{
    /// <summary>True when every input passed.</summary>
    public bool Passed => Inputs.All(r => r.Passed);

    /// <inheritdoc/>
    public override string ToString() => string.Join("\n", Inputs.Select(r => r.ToString()));
}

/// <summary>Thrown when a gradient check fails; the message lists every input's worst error.</summary>
public sealed class GradCheckException(string message) : Exception(message);

/// <summary>
/// Gradient checks by central finite differences in float64. The function's output is reduced to a scalar by
/// a fixed random weighting L = Σ w ⊙ f(x), so one backward pass gives vᵀJ for a random v and every input
/// element is compared with (L(x + εe) − L(x − εe)) / 2ε. An element passes when
/// |analytic − numeric| ≤ atol + rtol·|numeric|.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks every element of every input that requires a gradient. Inputs must be float64 CPU tensors whose
    /// elements are distinct in storage (views are fine, expanded views are not).
    /// </summary>
    /// <param name="f">The function under test.</param>
    /// <param name="inputs">Its inputs; those with RequiresGrad are checked.</param>
    /// <param name="eps">Finite-difference step.</param>
    /// <param name="atol">Absolute tolerance.</param>
    /// <param name="rtol">Relative tolerance.</param>
    /// <param name="seed">Seed of the output weighting.</param>
    /// <param name="throwOnFailure">Throw <see cref="GradCheckException"/> on failure (default) instead of returning the result.</param>
    public static GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5, ulong seed = 1234, bool throwOnFailure = true)
    {
        Validate(inputs);
        var (loss, analytic) = Analytic(f, inputs, seed);
        var reports = new List<InputReport>();
        foreach (var (i, x, data, idx) in Perturbable(inputs))
        {
            var a = analytic[i]!;
            var worst = new Worst(atol, rtol);
            for (int e = 0; e < idx.Length; e++)
            {
                double saved = data[idx[e]];
                data[idx[e]] = saved + eps;
                double plus = loss();
                data[idx[e]] = saved - eps;
                double minus = loss();
                data[idx[e]] = saved;
                worst.Add(e, a[e], (plus - minus) / (2 * eps));
            }
            reports.Add(new InputReport(i, x.Shape, worst.Abs, worst.Rel, Unravel(worst.At, x.Shape), worst.Analytic, worst.Numeric, worst.Passed));
        }
        return Finish(reports, throwOnFailure);
    }

    /// <summary>
    /// Fast mode for large inputs: compares the analytic directional derivative ⟨∇L, d⟩ with the numeric one
    /// (L(x + εd) − L(x − εd)) / 2ε along <paramref name="directions"/> random unit directions per input.
    /// </summary>
    public static GradCheckResult CheckDirectional(Func<Tensor[], Tensor> f, Tensor[] inputs, int directions = 4, double eps = 1e-6, double atol = 1e-6, double rtol = 1e-5, ulong seed = 1234, bool throwOnFailure = true)
    {
        Validate(inputs);
        var (loss, analytic) = Analytic(f, inputs, seed);
        var rng = new Rng(seed ^ 0x5DEECE66DUL);
        var reports = new List<InputReport>();
        foreach (var (i, x, data, idx) in Perturbable(inputs))
        {
            var a = analytic[i]!;
            var worst = new Worst(atol, rtol);
            for (int k = 0; k < directions; k++)
            {
                var d = new double[idx.Length];
                double norm = 0;
                for (int e = 0; e < d.Length; e++) { d[e] = rng.NextNormal(); norm += d[e] * d[e]; }
                norm = Math.Sqrt(norm);
                double dirAnalytic = 0;
                for (int e = 0; e < d.Length; e++) { d[e] /= norm; dirAnalytic += a[e] * d[e]; }
                var saved = idx.Select(j => data[j]).ToArray();
                for (int e = 0; e < d.Length; e++) data[idx[e]] = saved[e] + eps * d[e];
                double plus = loss();
                for (int e = 0; e < d.Length; e++) data[idx[e]] = saved[e] - eps * d[e];
                double minus = loss();
                for (int e = 0; e < d.Length; e++) data[idx[e]] = saved[e];
                worst.Add(k, dirAnalytic, (plus - minus) / (2 * eps));
            }
            reports.Add(new InputReport(i, x.Shape, worst.Abs, worst.Rel, [worst.At], worst.Analytic, worst.Numeric, worst.Passed));
        }
        return Finish(reports, throwOnFailure);
    }

    /// <summary>The inputs that require a gradient, with their float64 host data and the storage index of each element.</summary>
    private static IEnumerable<(int Index, Tensor X, double[] Data, int[] Indices)> Perturbable(Tensor[] inputs)
    {
        for (int i = 0; i < inputs.Length; i++)
        {
            var x = inputs[i];
            if (!x.RequiresGrad) continue;
            var idx = new int[x.Count];
            x.Layout.StorageIndices(idx);
            yield return (i, x, CpuBackend.Data<double>(x.Storage), idx);
        }
    }

    /// <summary>The worst of the comparisons of one input: |analytic − numeric| against atol + rtol·|numeric|.</summary>
    private sealed class Worst(double atol, double rtol)
    {
        public double Abs, Rel, Analytic, Numeric;
        public int At;
        public bool Passed = true;

        public void Add(int at, double analytic, double numeric)
        {
            double abs = Math.Abs(analytic - numeric);
            bool ok = abs <= atol + rtol * Math.Abs(numeric) && double.IsFinite(analytic);
            Passed &= ok;
            // a NaN difference or the first failure is reported even when it is not the largest
            if (abs > Abs || (!ok && Abs == 0) || double.IsNaN(abs)) { Abs = double.IsNaN(abs) ? double.PositiveInfinity : abs; At = at; Analytic = analytic; Numeric = numeric; }
            Rel = Math.Max(Rel, abs / Math.Max(Math.Max(Math.Abs(analytic), Math.Abs(numeric)), 1e-12));
        }
    }

    private static void Validate(Tensor[] inputs)
    {
        if (!inputs.Any(t => t.RequiresGrad))
            throw new ArgumentException("gradcheck: no input requires a gradient; set RequiresGrad on the inputs to check");
        for (int i = 0; i < inputs.Length; i++)
        {
            var t = inputs[i];
            if (!t.RequiresGrad) continue;
            if (t.DType != DType.Float64 || t.Device != Device.Cpu)
                throw new ArgumentException($"gradcheck: input {i} is {t.DType.Name()} on {t.Device}; finite differences need float64 CPU tensors");
            if (!t.IsLeaf)
                throw new ArgumentException($"gradcheck: input {i} is not a leaf (made by {t.GradFn!.Name}); pass leaf tensors");
            var idx = new int[t.Count];
            t.Layout.StorageIndices(idx);
            if (idx.Distinct().Count() != idx.Length)
                throw new ArgumentException($"gradcheck: input {i} ({t.Layout}) has elements sharing storage (an expanded view); pass a tensor with distinct elements");
        }
    }

    /// <summary>Runs backward once for L = Σ w ⊙ f(x) and returns a closure that re-evaluates L without a graph.</summary>
    private static (Func<double> loss, double[]?[] grads) Analytic(Func<Tensor[], Tensor> f, Tensor[] inputs, ulong seed)
    {
        var saved = inputs.Select(t => t.Grad).ToArray();
        foreach (var t in inputs) t.Grad = null;
        var y = f(inputs);
        if (y.DType != DType.Float64)
            throw new ArgumentException($"gradcheck: the function returned {y.DType.Name()}; it must compute in float64");
        var w = Tensor.RandN(y.Shape, seed, DType.Float64);
        var l = y.Mul(w).Sum();
        if (!l.RequiresGrad)
            throw new ArgumentException("gradcheck: the output does not depend on any input that requires a gradient");
        l.Backward();
        var grads = new double[]?[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
        {
            if (!inputs[i].RequiresGrad) continue;
            grads[i] = inputs[i].Grad is { } g ? g.ToArray<double>() : new double[inputs[i].Count];
            inputs[i].Grad = saved[i];
        }
        double Loss()
        {
            using var _ = new NoGrad();
            return f(inputs).Mul(w).Sum().Item();
        }
        return (Loss, grads);
    }

    private static GradCheckResult Finish(List<InputReport> reports, bool throwOnFailure)
    {
        var result = new GradCheckResult(reports);
        if (throwOnFailure && !result.Passed)
        {
            var sb = new StringBuilder("gradcheck failed:\n");
            foreach (var r in reports) sb.AppendLine("  " + r);
            throw new GradCheckException(sb.ToString());
        }
        return result;
    }

    private static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            if (shape[d] == 0) continue;
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }
}
