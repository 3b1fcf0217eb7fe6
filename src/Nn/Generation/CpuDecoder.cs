using System.Numerics;
using System.Numerics.Tensors;
using Engine.Autograd;
using Engine.Cpu;

namespace Engine.Nn;

/// <summary>A forward of one sequence read a few tokens at a time, giving the last one's next-token logits.</summary>
internal interface ISequenceDecoder : IDisposable
{
    /// <summary>Positions read so far (the position of the next token).</summary>
    int Length { get; }

    /// <summary>Forgets the sequence.</summary>
    void Clear();

    /// <summary>Reads <paramref name="ids"/> after the positions read so far and writes the last one's next-token logits [V].</summary>
    void Step(ReadOnlySpan<int> ids, Span<double> logits);
}

/// <summary>Picks the <see cref="CpuDecoder{T}"/> of a model's dtype.</summary>
internal static class CpuDecoder
{
    /// <summary>A decoder for <paramref name="model"/> with room for <paramref name="capacity"/> positions, or null where the tensor path must run.</summary>
    public static ISequenceDecoder? TryCreate(Gpt model, int capacity) => model.TokenEmbedding.Weight.DType switch
    {
        DType.Float32 => CpuDecoder<float>.TryCreate(model, capacity),
        DType.Float64 => CpuDecoder<double>.TryCreate(model, capacity),
        _ => null,
    };
}

/// <summary>
/// The eval-mode forward of a <see cref="Gpt"/> on the CPU for one sequence read a token at a time, run on buffers
/// made once, so that a generated token allocates nothing (the tensor path makes about a hundred tensors per token).
/// It calls the kernels the tensor path calls, on the same operands in the same order (the products through
/// <see cref="Gemm"/>, the norms' and RoPE's rows, the fused attention reading its own KV cache in place, GELU), so
/// its logits are the tensor path's bit for bit; a test holds it to that for every attention, norm and position
/// signal. <see cref="TryCreate"/> declines what it does not cover (another device or dtype, bfloat16 autocast,
/// anomaly mode, attention capture), and the callers then take the tensor path.
/// Threading: one instance is one sequence on one thread; it reads the model's weights and must not outlive a
/// change to them.
/// </summary>
internal sealed class CpuDecoder<T> : ISequenceDecoder where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>One block's weights (arrays of the model's parameters, not copies); biases may be absent.</summary>
    private sealed record BlockWeights(Norm Norm1, Dense Qkv, Dense Proj, Norm Norm2, Dense Fc, Dense FcProj, T[]? HeadScale);

    private readonly record struct Dense(T[] Weight, T[]? Bias, int In, int Out);

    private readonly record struct Norm(T[] Weight, T[]? Bias, double Eps, bool Rms);

    private readonly Gpt model;
    private readonly int c, heads, headDim, hidden, vocab;
    private readonly T[] tokenTable, head, lastLogits;
    private readonly T[]? positionTable;
    private readonly Norm finalNorm;
    private readonly BlockWeights[] blocks;
    private readonly RotaryEmbedding? rope;
    private readonly AttentionFamily family;

    private T[][] keys, values;             // per layer [H, capacity, D]: the first Length positions are filled
    private int capacity;
    private Buffers one;                    // a single row's buffers, made once
    private AttentionKernel<T>.Session[] oneAttention = [];   // per layer: each keeps its heads' prepared keys
    private T[] cos = [], sin = [];         // RoPE tables for positions below their length / (D/2)
    private bool disposed;

    private CpuDecoder(Gpt model, int capacity)
    {
        this.model = model;
        var config = model.Config;
        c = config.ModelDim; heads = config.Heads; headDim = config.HeadDim; hidden = config.MlpRatio * c; vocab = config.VocabSize;
        tokenTable = ArrayOf(model.TokenEmbedding.Weight);
        positionTable = model.PositionTable is { } p ? ArrayOf(p.Weight) : null;
        head = ArrayOf(model.HeadWeight);
        lastLogits = new T[vocab];
        finalNorm = NormOf(model.FinalNorm);
        var spec = config.AttentionFor(training: false);
        family = spec.Family(headDim);
        blocks = model.Blocks.Select(b => new BlockWeights(NormOf(b.Norm1), DenseOf(b.Attention.Qkv), DenseOf(b.Attention.Proj), NormOf(b.Norm2),
            DenseOf(b.Mlp.Fc), DenseOf(b.Mlp.Proj), b.Attention.HeadScale(spec, DTypes.Of<T>(), Device.Cpu) is { } s ? ArrayOf(s) : null)).ToArray();
        rope = model.InferenceRope;
        keys = values = [];
        one = new Buffers(1, c, hidden);
        Grow(Math.Max(1, capacity));
    }

    /// <summary>
    /// A decoder for <paramref name="model"/> whose cache first holds <paramref name="capacity"/> positions (it grows
    /// when needed), or null where the tensor path must run instead.
    /// </summary>
    public static CpuDecoder<T>? TryCreate(Gpt model, int capacity)
    {
        if (model.Device != Device.Cpu || AnomalyMode.IsEnabled || Autocast.Current == Precision.BFloat16) return null;
        if (model.Blocks.Any(b => b.Attention.CaptureQueriesKeys)) return null;
        foreach (var p in model.Parameters())
            if (p.DType != DTypes.Of<T>() || p.Storage is not CpuStorage<T> || !p.Layout.IsContiguous || p.Layout.Offset != 0) return null;
        return new CpuDecoder<T>(model, capacity);
    }

    /// <summary>Positions cached (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Forgets the sequence (the buffers are kept).</summary>
    public void Clear()
    {
        Length = 0;
        foreach (var s in oneAttention) s.Restart();   // their kept keys are about to be overwritten
    }

    /// <summary>
    /// Reads <paramref name="ids"/> after the cached positions and writes the last one's next-token logits into
    /// <paramref name="logits"/> [V]. One token allocates nothing once the cache holds its position; a longer run
    /// (a prompt) allocates its rows' buffers.
    /// </summary>
    public void Step(ReadOnlySpan<int> ids, Span<double> logits)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        int rows = ids.Length, offset = Length;
        if (rows == 0) throw new ArgumentException("gpt decoder: no tokens to read");
        if (logits.Length != vocab) throw new ArgumentException($"gpt decoder: logits of {logits.Length} values, the vocabulary has {vocab}");
        for (int r = 0; r < rows; r++)
            if ((uint)ids[r] >= (uint)vocab)
                throw Embedding.BadId("embedding", ids[r], [0, r], vocab);
        if (positionTable is not null) model.CheckLearnedPositions(offset, rows);
        if (offset + rows > capacity) Grow(Math.Max(offset + rows, (int)Math.Min(System.Array.MaxLength / Math.Max(1, heads * headDim), 2L * capacity)));
        if (rope is not null && cos.Length < (offset + rows) * (headDim / 2)) LoadRopeTables(offset + rows);
        if (rows == 1) Forward(ids, offset, one, oneAttention, logits);
        else
        {
            // A prompt: the one-call attention, whose scratch is a workspace per thread sized for these keys (a
            // session's would be one per head and layer, sized for the whole cache).
            Forward(ids, offset, new Buffers(rows, c, hidden), null, logits);
            foreach (var s in oneAttention) s.Restart();   // keys they kept may have been overwritten
        }
        Length = offset + rows;
    }

    /// <summary>The rows' forward: the same kernels in the same order as <see cref="Gpt.Forward(Tensor, KvCache?, bool)"/>.</summary>
    private void Forward(ReadOnlySpan<int> ids, int offset, Buffers b, AttentionKernel<T>.Session[]? attention, Span<double> logits)
    {
        int rows = ids.Length;
        for (int r = 0; r < rows; r++)
        {
            var xr = b.X.AsSpan(r * c, c);
            tokenTable.AsSpan(ids[r] * c, c).CopyTo(xr);
            if (positionTable is not null) TensorPrimitives.Add(xr, positionTable.AsSpan((offset + r) * c, c), xr);
        }
        var dims = new AttentionDims(1, heads, rows, offset + rows, headDim, offset);
        var cacheOperand = new AttentionOperand(0, heads * capacity * headDim, capacity * headDim, headDim);
        for (int l = 0; l < blocks.Length; l++)
        {
            var w = blocks[l];
            NormRows(w.Norm1, b.X, b.H, rows);
            Linear(w.Qkv, b.H, b.Qkv, rows);
            SplitHeads(b, rows, offset, keys[l], values[l], w.HeadScale);
            var queries = AttentionOperand.Compact(heads, rows, headDim);
            if (attention is not null) attention[l].Forward(b.Q, queries, keys[l], cacheOperand, values[l], cacheOperand, dims, family, b.Attended, 0);
            else
            {
                var y = AttentionKernel<T>.Forward(b.Q, queries, keys[l], cacheOperand, values[l], cacheOperand, dims, family);
                y.AsSpan(0, rows * c).CopyTo(b.Attended);
                CpuArrayPool.Return(y);
            }
            var merged = b.Attended;
            if (rows > 1)
            {
                // [H, T, D] → [T, H·D], as the tensor path's transpose and reshape copy it.
                merged = b.Merged;
                for (int h = 0; h < heads; h++)
                    for (int r = 0; r < rows; r++)
                        b.Attended.AsSpan((h * rows + r) * headDim, headDim).CopyTo(merged.AsSpan(r * c + h * headDim, headDim));
            }
            Linear(w.Proj, merged, b.Out, rows);
            TensorPrimitives.Add(b.X.AsSpan(0, rows * c), b.Out.AsSpan(0, rows * c), b.X);
            NormRows(w.Norm2, b.X, b.H, rows);
            Linear(w.Fc, b.H, b.Hidden, rows);
            GeluKernel.Run<T>(b.Hidden.AsSpan(0, rows * hidden), b.Hidden, derivative: false);
            Linear(w.FcProj, b.Hidden, b.Out, rows);
            TensorPrimitives.Add(b.X.AsSpan(0, rows * c), b.Out.AsSpan(0, rows * c), b.X);
        }
        // Only the last row's logits are wanted; rows are independent from here on.
        var last = b.X.AsSpan((rows - 1) * c, c);
        CpuBackend.NormRow<T>(last, finalNorm.Weight, finalNorm.Bias, b.H.AsSpan(0, c), finalNorm.Eps, finalNorm.Rms);
        Gemm.Compute(1, vocab, c, b.H, 0, c, 1, head, 0, 1, c, lastLogits, 0, vocab, accumulate: false);
        for (int i = 0; i < vocab; i++) logits[i] = double.CreateTruncating(lastLogits[i]);
    }

    /// <summary>
    /// Puts each head's query (rotated, scaled by SSMax's s_h) into Q [H, T, D] and its key (rotated) and value into
    /// this layer's cache at the rows' positions.
    /// </summary>
    private void SplitHeads(Buffers b, int rows, int offset, T[] k, T[] v, T[]? headScale)
    {
        int half = headDim / 2;
        for (int h = 0; h < heads; h++)
            for (int r = 0; r < rows; r++)
            {
                int src = r * 3 * c + h * headDim, at = (h * capacity + offset + r) * headDim, pos = offset + r;
                ReadOnlySpan<T> qs = b.Qkv.AsSpan(src, headDim), ks = b.Qkv.AsSpan(src + c, headDim), vs = b.Qkv.AsSpan(src + 2 * c, headDim);
                Span<T> qd = b.Q.AsSpan((h * rows + r) * headDim, headDim), kd = k.AsSpan(at, headDim);
                if (rope is not null)
                {
                    ReadOnlySpan<T> cs = cos.AsSpan(pos * half, half), sn = sin.AsSpan(pos * half, half);
                    CpuBackend.RopeRow(qs, qd, cs, sn, b.RopeScratch, inverse: false);
                    CpuBackend.RopeRow(ks, kd, cs, sn, b.RopeScratch, inverse: false);
                }
                else
                {
                    qs.CopyTo(qd);
                    ks.CopyTo(kd);
                }
                if (headScale is not null) TensorPrimitives.Multiply(qd, headScale[h], qd);
                vs.CopyTo(v.AsSpan(at, headDim));
            }
    }

    private static void NormRows(Norm n, T[] x, T[] y, int rows)
    {
        int cols = n.Weight.Length;
        for (int r = 0; r < rows; r++)
            CpuBackend.NormRow<T>(x.AsSpan(r * cols, cols), n.Weight, n.Bias, y.AsSpan(r * cols, cols), n.Eps, n.Rms);
    }

    /// <summary>y [rows, out] = x [rows, in]·Wᵀ (+ b), W [out, in]: the product the tensor path's Linear makes (the bias where each row's sum starts, as there).</summary>
    private static void Linear(Dense d, T[] x, T[] y, int rows) =>
        Gemm.Compute(rows, d.Out, d.In, x, 0, d.In, 1, d.Weight, 0, 1, d.In, y, 0, d.Out, accumulate: false, bias: d.Bias);

    /// <summary>Makes the cache hold <paramref name="positions"/> positions, keeping the cached ones.</summary>
    private void Grow(int positions)
    {
        int layers = blocks.Length, dh = heads * headDim;
        var newKeys = new T[layers][];
        var newValues = new T[layers][];
        for (int l = 0; l < layers; l++)
        {
            newKeys[l] = new T[(long)positions * dh is var n && n <= System.Array.MaxLength ? (int)n : throw new ArgumentException($"gpt decoder: a cache of {positions} positions × {dh} features is too large")];
            newValues[l] = new T[newKeys[l].Length];
            for (int h = 0; h < heads && Length > 0; h++)
            {
                keys[l].AsSpan(h * capacity * headDim, Length * headDim).CopyTo(newKeys[l].AsSpan(h * positions * headDim));
                values[l].AsSpan(h * capacity * headDim, Length * headDim).CopyTo(newValues[l].AsSpan(h * positions * headDim));
            }
        }
        (keys, values, capacity) = (newKeys, newValues, positions);
        foreach (var s in oneAttention) s.Dispose();
        oneAttention = [];
        // A session per layer for single tokens over the cache's capacity.
        var sessions = new AttentionKernel<T>.Session[blocks.Length];
        try
        {
            for (int l = 0; l < sessions.Length; l++) sessions[l] = new AttentionKernel<T>.Session(new AttentionDims(1, heads, 1, capacity, headDim, 0));
        }
        catch
        {
            foreach (var s in sessions) s?.Dispose();
            throw;
        }
        oneAttention = sessions;
    }

    private void LoadRopeTables(int positions)
    {
        var (cosTable, sinTable) = rope!.Tables(Math.Max(positions, capacity), DTypes.Of<T>(), Device.Cpu);
        (cos, sin) = (ArrayOf(cosTable), ArrayOf(sinTable));
    }

    private static T[] ArrayOf(Tensor t)
    {
        var data = ((CpuStorage<T>)t.Storage).Data;
        if (!t.Layout.IsContiguous || t.Layout.Offset != 0 || data.Length != t.Count)
            throw new InvalidOperationException($"gpt decoder: a weight of shape {Shapes.Format(t.ShapeSpan)} is not a whole contiguous array");
        return data;
    }

    private static Dense DenseOf(Linear l) => new(ArrayOf(l.Weight), l.Bias is { } b ? ArrayOf(b) : null, l.InFeatures, l.OutFeatures);

    private static Norm NormOf(Layer layer) => layer switch
    {
        LayerNorm n => new(ArrayOf(n.Weight), n.Bias is { } b ? ArrayOf(b) : null, n.Eps, Rms: false),
        RMSNorm n => new(ArrayOf(n.Weight), null, n.Eps, Rms: true),
        _ => throw new InvalidOperationException($"gpt decoder: unknown norm {layer.GetType().Name}"),
    };

    /// <summary>The activations of <c>Rows</c> rows.</summary>
    private sealed class Buffers(int rows, int c, int hidden)
    {
        public readonly T[] X = new T[rows * c], H = new T[rows * c], Qkv = new T[rows * 3 * c], Q = new T[rows * c],
            Attended = new T[rows * c], Merged = rows > 1 ? new T[rows * c] : [], Out = new T[rows * c], Hidden = new T[rows * hidden],
            RopeScratch = new T[Math.Max(1, c)];
    }

    /// <summary>Gives the attention scratch back.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var s in oneAttention) s.Dispose();
    }
}
