using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

// Fused kernels: normalisation, cross-entropy and rotary embedding (optimiser steps: CpuBackend.Optim.cs). Each is a flat loop over
// rows (parallel across rows); reductions across rows (weight gradients, the loss) run in a fixed order so
// results do not depend on the thread count.
public sealed partial class CpuBackend
{
    // ---- layer norm / RMS norm ----

    /// <inheritdoc/>
    public (Storage Y, Storage Mean, Storage Rstd) NormForward(Storage x, Storage? weight, Storage? bias, int rows, int cols, double eps, bool rms) => x.DType switch
    {
        DType.Float32 => NormForward(Data<float>(x), Opt<float>(weight), Opt<float>(bias), rows, cols, eps, rms),
        DType.Float64 => NormForward(Data<double>(x), Opt<double>(weight), Opt<double>(bias), rows, cols, eps, rms),
        _ => throw new NotSupportedException($"norm: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    private static T[]? Opt<T>(Storage? s) where T : unmanaged => s is null ? null : Data<T>(s);

    private static (Storage, Storage, Storage) NormForward<T>(T[] x, T[]? w, T[]? b, int rows, int cols, double eps, bool rms) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = CpuArrayPool.RentUninitialized<T>(rows * cols);   // every row is written below
        var mean = new T[rows];
        var rstd = new T[rows];
        EngineThreads.For(rows, cols * 6L, (start, end) =>
        {
            for (int r = start; r < end; r++)
                (mean[r], rstd[r]) = NormRow<T>(x.AsSpan(r * cols, cols), w, b, y.AsSpan(r * cols, cols), eps, rms);
        });
        return (Wrap(y), Wrap(mean), Wrap(rstd));
    }

    /// <summary>
    /// One row of the layer norm (or RMS norm): y = (x − μ)·rstd ⊙ w + b, returning μ (0 for RMS) and rstd. Also the
    /// decoder's norm (Engine.Nn), so a generated token is normalised bit for bit as the tensor path does it.
    /// </summary>
    internal static (T Mean, T Rstd) NormRow<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, ReadOnlySpan<T> b, Span<T> y, double eps, bool rms)
        where T : unmanaged, IFloatingPointIeee754<T> => NormKernel<T>.ForwardRow(x, w, b, y, T.CreateChecked(eps), rms);

    /// <inheritdoc/>
    public (Storage Dx, Storage? DWeight, Storage? DBias) NormBackward(Storage x, Storage? weight, bool hasBias, Storage mean, Storage rstd, Storage dy, int rows, int cols, bool rms) => x.DType switch
    {
        DType.Float32 => NormBackward(Data<float>(x), Opt<float>(weight), hasBias, Data<float>(mean), Data<float>(rstd), Data<float>(dy), rows, cols, rms),
        DType.Float64 => NormBackward(Data<double>(x), Opt<double>(weight), hasBias, Data<double>(mean), Data<double>(rstd), Data<double>(dy), rows, cols, rms),
        _ => throw new NotSupportedException($"norm backward: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    /// <summary>
    /// With x̂ = (x − μ)·rstd and ĝ = dy ⊙ w: layer norm dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ ⊙ x̂));
    /// RMS norm (μ = 0) dx = rstd·(ĝ − x̂·mean(ĝ ⊙ x̂)). dw = Σ_rows dy ⊙ x̂, db = Σ_rows dy.
    /// One pass over the rows (<see cref="NormKernel{T}.BackwardRow"/>): each block of <see cref="NormRowBlock"/> rows
    /// sums its share of dw and db while its rows are in cache, and the blocks' sums are added in block order, so the
    /// result does not depend on the thread count.
    /// </summary>
    private static (Storage, Storage?, Storage?) NormBackward<T>(T[] x, T[]? w, bool hasBias, T[] mean, T[] rstd, T[] dy, int rows, int cols, bool rms) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dx = CpuArrayPool.RentUninitialized<T>(rows * cols);   // every row is written below
        int blocks = (rows + NormRowBlock - 1) / NormRowBlock;
        var dwParts = w is not null ? CpuArrayPool.RentScratch<T>(blocks * cols) : null;
        var dbParts = hasBias ? CpuArrayPool.RentScratch<T>(blocks * cols) : null;
        EngineThreads.For(blocks, (long)NormRowBlock * cols * 8, (start, end) =>
        {
            for (int blk = start; blk < end; blk++)
            {
                var dwSum = dwParts is null ? default : dwParts.AsSpan(blk * cols, cols);
                var dbSum = dbParts is null ? default : dbParts.AsSpan(blk * cols, cols);
                dwSum.Clear();
                dbSum.Clear();
                for (int r = blk * NormRowBlock, last = Math.Min(rows, r + NormRowBlock); r < last; r++)
                    NormKernel<T>.BackwardRow(x.AsSpan(r * cols, cols), dy.AsSpan(r * cols, cols), w, mean[r], rstd[r], rms,
                        dx.AsSpan(r * cols, cols), dwSum, dbSum);
            }
        });
        return (Wrap(dx), dwParts is null ? null : Wrap(SumBlocks(dwParts, blocks, cols)), dbParts is null ? null : Wrap(SumBlocks(dbParts, blocks, cols)));
    }

    /// <summary>Rows per block of the norm backward's weight and bias sums (a fixed number, whatever the thread count).</summary>
    private const int NormRowBlock = 64;

    /// <summary>The sum of a scratch array's <paramref name="blocks"/> rows of <paramref name="cols"/>, added in order; the scratch goes back to the pool.</summary>
    private static T[] SumBlocks<T>(T[] parts, int blocks, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var sum = new T[cols];
        for (int b = 0; b < blocks; b++) TensorPrimitives.Add(sum, parts.AsSpan(b * cols, cols), sum);
        CpuArrayPool.Return(parts);
        return sum;
    }

    // ---- cross-entropy ----

    /// <inheritdoc/>
    public (Storage Loss, Storage LogSumExp, int Count) CrossEntropyForward(Storage logits, Storage targets, int rows, int cols, int ignoreIndex) => logits.DType switch
    {
        DType.Float32 => CrossEntropyForward(Data<float>(logits), Data<int>(targets), rows, cols, ignoreIndex),
        DType.Float64 => CrossEntropyForward(Data<double>(logits), Data<int>(targets), rows, cols, ignoreIndex),
        _ => throw new NotSupportedException($"cross_entropy: needs floating-point logits, got {logits.DType.Name()}"),
    };

    private static (Storage, Storage, int) CrossEntropyForward<T>(T[] x, int[] t, int rows, int cols, int ignoreIndex) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = CrossEntropyTargets.CountCounted(t.AsSpan(0, rows), cols, ignoreIndex);
        var lse = new T[rows];
        var rowLoss = new double[rows];
        EngineThreads.For(rows, cols * 3L, (start, end) =>
        {
            var tmp = new T[cols];
            for (int r = start; r < end; r++)
            {
                var xr = x.AsSpan(r * cols, cols);
                T max = TensorPrimitives.Max<T>(xr);
                TensorPrimitives.Subtract(xr, max, tmp);
                TensorPrimitives.Exp(tmp, tmp);
                lse[r] = max + T.Log(TensorPrimitives.Sum<T>(tmp));
                if (t[r] != ignoreIndex) rowLoss[r] = double.CreateChecked(lse[r] - xr[t[r]]);
            }
        });
        double total = 0;
        for (int r = 0; r < rows; r++) total += rowLoss[r];
        return (Wrap(new[] { T.CreateChecked(count == 0 ? double.NaN : total / count) }), Wrap(lse), count);
    }

    /// <inheritdoc/>
    public Storage CrossEntropyBackward(Storage logits, Storage targets, Storage logSumExp, int rows, int cols, int ignoreIndex, double scale) => logits.DType switch
    {
        DType.Float32 => Wrap(CrossEntropyBackward(Data<float>(logits), Data<int>(targets), Data<float>(logSumExp), rows, cols, ignoreIndex, scale)),
        DType.Float64 => Wrap(CrossEntropyBackward(Data<double>(logits), Data<int>(targets), Data<double>(logSumExp), rows, cols, ignoreIndex, scale)),
        _ => throw new NotSupportedException($"cross_entropy backward: needs floating-point logits, got {logits.DType.Name()}"),
    };

    /// <summary>d loss / d logits = (softmax(x) − onehot(t))·scale, where softmax(x) = exp(x − lse).</summary>
    private static T[] CrossEntropyBackward<T>(T[] x, int[] t, T[] lse, int rows, int cols, int ignoreIndex, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dx = CpuArrayPool.Rent<T>(rows * cols);
        T s = T.CreateChecked(scale);
        EngineThreads.For(rows, cols * 3L, (start, end) =>
        {
            for (int r = start; r < end; r++)
            {
                if (t[r] == ignoreIndex) continue;
                var dr = dx.AsSpan(r * cols, cols);
                TensorPrimitives.Subtract(x.AsSpan(r * cols, cols), lse[r], dr);
                TensorPrimitives.Exp(dr, dr);
                TensorPrimitives.Multiply(dr, s, dr);
                dr[t[r]] -= s;
            }
        });
        return dx;
    }

    // ---- rotary position embedding ----

    /// <inheritdoc/>
    public Storage Rope(Storage x, Storage cos, Storage sin, int groups, int time, int dim, bool inverse) => x.DType switch
    {
        DType.Float32 => Wrap(Rope(Data<float>(x), Data<float>(cos), Data<float>(sin), groups, time, dim, inverse)),
        DType.Float64 => Wrap(Rope(Data<double>(x), Data<double>(cos), Data<double>(sin), groups, time, dim, inverse)),
        _ => throw new NotSupportedException($"rope: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    /// <summary>(a, b) ↦ (a·cos − b·sin, a·sin + b·cos) for a = x[i], b = x[i + dim/2]; inverse negates sin.</summary>
    private static T[] Rope<T>(T[] x, T[] cos, T[] sin, int groups, int time, int dim, bool inverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int half = dim / 2;
        var y = CpuArrayPool.Rent<T>(x.Length);
        EngineThreads.For(groups, (long)time * dim * 4, (start, end) =>
        {
            var tmp = new T[half];
            for (int g = start; g < end; g++)
                for (int p = 0; p < time; p++)
                {
                    int o = (g * time + p) * dim;
                    RopeRow<T>(x.AsSpan(o, dim), y.AsSpan(o, dim), cos.AsSpan(p * half, half), sin.AsSpan(p * half, half), tmp, inverse);
                }
        });
        return y;
    }

    /// <summary>
    /// One row of <see cref="Rope{T}"/>: <paramref name="x"/> [dim] rotated into <paramref name="y"/> (not the same
    /// memory) by the angles whose cos and sin are given ([dim/2] each); <paramref name="tmp"/> is [dim/2] of
    /// scratch. Also the decoder's rotation (Engine.Nn), so it matches the tensor path bit for bit.
    /// </summary>
    internal static void RopeRow<T>(ReadOnlySpan<T> x, Span<T> y, ReadOnlySpan<T> cos, ReadOnlySpan<T> sin, Span<T> tmp, bool inverse)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int half = x.Length / 2;
        ReadOnlySpan<T> a = x[..half], b = x[half..];
        Span<T> ya = y[..half], yb = y[half..];
        tmp = tmp[..half];
        TensorPrimitives.Multiply(b, sin, tmp);
        TensorPrimitives.Multiply(a, cos, ya);
        TensorPrimitives.Multiply(a, sin, yb);
        if (inverse) { TensorPrimitives.Add(ya, tmp, ya); TensorPrimitives.Negate(yb, yb); }
        else TensorPrimitives.Subtract(ya, tmp, ya);
        TensorPrimitives.MultiplyAdd(b, cos, yb, yb);
    }

    private static void AdamW<T>(T[] p, T[] g, T[] m, T[] v, double lr, double beta1, double beta2, double eps, double weightDecay, int step) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T b1 = T.CreateChecked(beta1), b2 = T.CreateChecked(beta2), one = T.One;
        T stepSize = T.CreateChecked(lr / (1 - Math.Pow(beta1, step)));
        T invSqrtBc2 = T.CreateChecked(1 / Math.Sqrt(1 - Math.Pow(beta2, step)));
        T decay = T.CreateChecked(1 - lr * weightDecay), e = T.CreateChecked(eps);
        EngineThreads.For(p.Length, 16, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                T gi = g[i];
                T mi = m[i] = b1 * m[i] + (one - b1) * gi;
                T vi = v[i] = b2 * v[i] + (one - b2) * gi * gi;
                p[i] = p[i] * decay - stepSize * mi / (T.Sqrt(vi) * invSqrtBc2 + e);
            }
        });
    }

    private static void Sgd<T>(T[] p, T[] g, T[]? buf, double lr, double momentum, double weightDecay, bool nesterov, bool firstStep) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T mu = T.CreateChecked(momentum), wd = T.CreateChecked(weightDecay), rate = T.CreateChecked(lr);
        EngineThreads.For(p.Length, 8, (start, end) =>
        {
            for (int i = start; i < end; i++)
            {
                T d = g[i] + wd * p[i];
                if (buf is not null)
                {
                    T bi = buf[i] = firstStep ? d : mu * buf[i] + d;
                    d = nesterov ? d + mu * bi : bi;
                }
                p[i] -= rate * d;
            }
        });
    }
}
