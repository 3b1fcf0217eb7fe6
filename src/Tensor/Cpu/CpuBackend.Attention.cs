using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Cpu;

// Fused causal attention for the whole family (Softmax, LSSA, LSSAR, the ablations): see AttentionFamily and
// docs/attention.md for the maths, and AttentionReference for the composed version this must agree with.
public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage CausalAttentionForward(Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(AttentionKernel<float>.Forward(Data<float>(q), Data<float>(k), Data<float>(v), dims, family)),
        DType.Float64 => Wrap(AttentionKernel<double>.Forward(Data<double>(q), Data<double>(k), Data<double>(v), dims, family)),
        _ => throw new NotSupportedException($"causal_attention: needs float32 or float64, got {q.DType.Name()}"),
    };

    /// <inheritdoc/>
    public (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        switch (q.DType)
        {
            case DType.Float32:
            {
                var (dq, dk, dv) = AttentionKernel<float>.Backward(Data<float>(q), Data<float>(k), Data<float>(v), Data<float>(gradOutput), dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            case DType.Float64:
            {
                var (dq, dk, dv) = AttentionKernel<double>.Backward(Data<double>(q), Data<double>(k), Data<double>(v), Data<double>(gradOutput), dims, family);
                return (Wrap(dq), Wrap(dk), Wrap(dv));
            }
            default: throw new NotSupportedException($"causal_attention backward: needs float32 or float64, got {q.DType.Name()}");
        }
    }

    /// <inheritdoc/>
    public Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family) => q.DType switch
    {
        DType.Float32 => Wrap(AttentionKernel<float>.Weights(Data<float>(q), Data<float>(k), dims, family)),
        DType.Float64 => Wrap(AttentionKernel<double>.Weights(Data<double>(q), Data<double>(k), dims, family)),
        _ => throw new NotSupportedException($"causal_attention_weights: needs float32 or float64, got {q.DType.Name()}"),
    };
}

/// <summary>
/// The causal attention kernels, generic over float and double. Work is split over (batch, head) pairs; within a
/// head, query rows are processed in blocks of <see cref="R"/>. A block only touches the keys its last row can
/// see, so nothing above the causal diagonal is computed beyond the block's own R×R corner. Each row's scores are
/// kept in a scratch row of at most Tk values (in L1 for the usual lengths) while the row-wise stages run on them.
/// The backward recomputes each block's scores and weights from q and k (FlashAttention's trade: O(T·D) memory
/// instead of O(T²)); forward and backward share the row code, so the recomputed weights are bit-identical.
/// </summary>
internal static class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Query rows per block: four rows share every key load in the score and value products.</summary>
    private const int R = 4;

    // ------------------------------------------------------------------ drivers

    public static T[] Forward(T[] q, T[] k, T[] v, AttentionDims d, AttentionFamily f)
    {
        var output = new T[d.Batch * d.Heads * d.Queries * d.HeadDim];
        int heads = d.Batch * d.Heads;
        EngineThreads.For(heads, (long)d.Queries * d.Keys * d.HeadDim, (start, end) =>
        {
            using var ws = new Workspace(d, backward: false);
            for (int bh = start; bh < end; bh++)
            {
                ws.Prepare(q, k, null, bh, f);
                int vBase = bh * d.Keys * d.HeadDim, oBase = bh * d.Queries * d.HeadDim;
                for (int i0 = 0; i0 < d.Queries; i0 += R)
                {
                    int rb = Math.Min(R, d.Queries - i0), nMax = d.Visible(i0 + rb - 1);
                    ws.BlockWeights(i0, rb, nMax, f, keepStages: false, 0);
                    WeightsTimesValues(ws.A, 0, d.Keys, rb, nMax, v, vBase, d.HeadDim, output, oBase + i0 * d.HeadDim);
                }
            }
        });
        return output;
    }

    public static T[] Weights(T[] q, T[] k, AttentionDims d, AttentionFamily f)
    {
        var weights = new T[d.Batch * d.Heads * d.Queries * d.Keys];
        EngineThreads.For(d.Batch * d.Heads, (long)d.Queries * d.Keys * d.HeadDim, (start, end) =>
        {
            using var ws = new Workspace(d, backward: false);
            for (int bh = start; bh < end; bh++)
            {
                ws.Prepare(q, k, null, bh, f);
                for (int i0 = 0; i0 < d.Queries; i0 += R)
                {
                    int rb = Math.Min(R, d.Queries - i0), nMax = d.Visible(i0 + rb - 1);
                    ws.BlockWeights(i0, rb, nMax, f, keepStages: false, 0);
                    for (int r = 0; r < rb; r++)
                        ws.A.AsSpan(r * d.Keys, d.Visible(i0 + r)).CopyTo(weights.AsSpan((bh * d.Queries + i0 + r) * d.Keys));
                }
            }
        });
        return weights;
    }

    public static (T[] Dq, T[] Dk, T[] Dv) Backward(T[] q, T[] k, T[] v, T[] dOut, AttentionDims d, AttentionFamily f)
    {
        int D = d.HeadDim, tk = d.Keys;
        var dq = new T[d.Batch * d.Heads * d.Queries * D];
        var dk = new T[d.Batch * d.Heads * tk * D];
        var dv = new T[dk.Length];
        int bq = BackwardBlockRows(tk);
        EngineThreads.For(d.Batch * d.Heads, 3L * d.Queries * tk * D, (start, end) =>
        {
            using var ws = new Workspace(d, backward: true, blockRows: bq);
            for (int bh = start; bh < end; bh++)
            {
                ws.Prepare(q, k, v, bh, f);
                int qBase = bh * d.Queries * D, kBase = bh * tk * D;
                // Query rows in blocks of bq: every row's weights w and score gradients ds of the block are kept, so
                // the key and value gradients of the block are accumulated in one pass over the visible keys
                // (each dK/dV row is read and written once per block, not once per four query rows).
                for (int i0 = 0; i0 < d.Queries; i0 += bq)
                {
                    int rows = Math.Min(bq, d.Queries - i0), nBlock = d.Visible(i0 + rows - 1);
                    T[] w = ws.A;
                    for (int s0 = 0; s0 < rows; s0 += R)
                    {
                        int rb = Math.Min(R, rows - s0), nMax = d.Visible(i0 + s0 + rb - 1);
                        w = ws.BlockWeights(i0 + s0, rb, nMax, f, keepStages: true, s0);
                        // rows of dO for this group of four (rows past the last query repeat it; their results are discarded).
                        int g0 = qBase + (i0 + s0) * D, g1 = g0 + Math.Min(1, rb - 1) * D, g2 = g0 + Math.Min(2, rb - 1) * D, g3 = g0 + Math.Min(3, rb - 1) * D;
                        // dw_ij = dO_i · v_j
                        ScoresBlock(dOut, g0, g1, g2, g3, ws.VT, tk, D, nMax, ws.G, tk, s0 * tk);
                        // per row: dw → da (re-weighting) → ds (first stage)
                        for (int r = 0; r < rb; r++)
                        {
                            int n = d.Visible(i0 + s0 + r);
                            ws.RowBackward(s0 + r, n, f);
                            ws.G.AsSpan((s0 + r) * tk + n, nMax - n).Clear();
                        }
                        ClearRows(ws.G, tk, s0, rb, nMax);
                        // dQ'_i = Σ_j ds_ij k̃_j
                        WeightsTimesValues(ws.G, s0 * tk, tk, rb, nMax, ws.Kn, 0, D, dq, qBase + (i0 + s0) * D);
                    }
                    // dV_j += Σ_i w_ij dO_i ; dK̃_j += Σ_i ds_ij Q'_i, over the rows i of the block that see key j
                    int firstSeen = i0 + d.QueryOffset; // key j is seen by the block's rows r ≥ j − firstSeen
                    AccumulateTransposed(w, tk, rows, nBlock, firstSeen, dOut, qBase + i0 * D, D, dv, kBase);
                    AccumulateTransposed(ws.G, tk, rows, nBlock, firstSeen, ws.Qs, i0 * D, D, dk, kBase);
                }
                ws.FinishGradients(q, k, dq, dk, bh, f);
            }
        });
        return (dq, dk, dv);
    }

    /// <summary>
    /// Query rows per backward block: as many as keep one [rows, Tk] scratch matrix within about 64 KiB (so the
    /// block's five scratch matrices stay in L2), at least <see cref="R"/> and at most 64, a multiple of R.
    /// </summary>
    private static int BackwardBlockRows(int keys)
    {
        int budget = 65536 / Unsafe.SizeOf<T>();
        int rows = Math.Clamp(budget / Math.Max(keys, 1), R, 64);
        return rows / R * R;
    }

    private static void ClearRows(T[] m, int ld, int row0, int rb, int n)
    {
        for (int r = rb; r < R; r++) m.AsSpan((row0 + r) * ld, n).Clear();
    }

    // ------------------------------------------------------------------ per-thread workspace

    /// <summary>Scratch for one thread, rented once per parallel chunk and reused for every head in it.</summary>
    private sealed class Workspace : IDisposable
    {
        private readonly AttentionDims d;
        private readonly List<T[]> rented = [];
        /// <summary>Q'_i = λ_i·q̃_i [Tq, D] (q̃ = q/‖q‖ when normalising).</summary>
        public readonly T[] Qs;
        /// <summary>k̃_j [Tk, D] and its transpose [D, Tk].</summary>
        public readonly T[] Kn, KT;
        /// <summary>vᵀ [D, Tk] (backward only).</summary>
        public readonly T[] VT;
        /// <summary>Row blocks [R, Tk]: scores then first-stage weights a; σ̃/U (Softplus backward); x = n·a − o; w; gradients.</summary>
        public readonly T[] A, Sig, X, W, G;
        private readonly T[] tmp;
        /// <summary>Per block row: κ of the re-weighting's backward, or 0 for a degenerate row.</summary>
        private readonly T[] kappa;

        public Workspace(AttentionDims dims, bool backward, int blockRows = R)
        {
            d = dims;
            int D = d.HeadDim, tk = d.Keys;
            Qs = Rent(d.Queries * D); Kn = Rent(tk * D); KT = Rent(D * tk);
            VT = backward ? Rent(D * tk) : [];
            A = Rent(blockRows * tk); X = Rent(blockRows * tk); W = Rent(blockRows * tk);
            Sig = backward ? Rent(blockRows * tk) : []; G = backward ? Rent(blockRows * tk) : [];
            kappa = new T[blockRows];
            tmp = Rent(Math.Max(tk, D));
        }

        private T[] Rent(int n)
        {
            var a = ArrayPool<T>.Shared.Rent(Math.Max(n, 1));
            rented.Add(a);
            return a;
        }

        public void Dispose()
        {
            foreach (var a in rented) ArrayPool<T>.Shared.Return(a);
            rented.Clear();
        }

        /// <summary>Fills Qs, Kn, KT (and VT) for head <paramref name="bh"/>.</summary>
        public void Prepare(T[] q, T[] k, T[]? v, int bh, AttentionFamily f)
        {
            int D = d.HeadDim, tk = d.Keys;
            int qBase = bh * d.Queries * D, kBase = bh * tk * D;
            for (int i = 0; i < d.Queries; i++)
            {
                var qi = q.AsSpan(qBase + i * D, D);
                T scale = T.CreateChecked(f.RowScale(d.Visible(i)));
                if (f.NormalizeQK) scale *= InverseNorm(qi);
                TensorPrimitives.Multiply(qi, scale, Qs.AsSpan(i * D, D));
            }
            for (int j = 0; j < tk; j++)
            {
                var kj = k.AsSpan(kBase + j * D, D);
                var dst = Kn.AsSpan(j * D, D);
                if (f.NormalizeQK) TensorPrimitives.Multiply(kj, InverseNorm(kj), dst);
                else kj.CopyTo(dst);
            }
            Transpose(Kn, 0, tk, D, KT);
            if (v is not null) Transpose(v, kBase, tk, D, VT);
        }

        private static void Transpose(T[] src, int offset, int rows, int cols, T[] dst)
        {
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) dst[c * rows + r] = src[offset + r * cols + c];
        }

        /// <summary>
        /// Scores and weights of query rows i0..i0+rb−1 over keys 0..nMax−1. Returns the buffer holding the final
        /// weights w (zero past each row's n_i): A itself without re-weighting (and in the forward, where w
        /// overwrites a), else W. With <paramref name="keepStages"/> the backward's intermediates stay in A, Sig, X.
        /// </summary>
        public T[] BlockWeights(int i0, int rb, int nMax, AttentionFamily f, bool keepStages, int row0)
        {
            int D = d.HeadDim, tk = d.Keys;
            int a0 = i0 * D, a1 = a0 + Math.Min(1, rb - 1) * D, a2 = a0 + Math.Min(2, rb - 1) * D, a3 = a0 + Math.Min(3, rb - 1) * D;
            ScoresBlock(Qs, a0, a1, a2, a3, KT, tk, D, nMax, A, tk, row0 * tk);
            var w = f.Power is null || !keepStages ? A : W;
            for (int rr = 0; rr < rb; rr++)
            {
                int n = d.Visible(i0 + rr), r = row0 + rr;
                var row = A.AsSpan(r * tk, n);
                StageOne(row, keepStages && f.Positive == PositiveFunction.Softplus ? Sig.AsSpan(r * tk, n) : default, f.Positive);
                if (f.Power is double p)
                    kappa[r] = StageTwo(row, n, keepStages ? X.AsSpan(r * tk, n) : default, w.AsSpan(r * tk, n), p);
                w.AsSpan(r * tk + n, nMax - n).Clear();
            }
            return w;
        }

        /// <summary>
        /// Row r of G holds dw_j = dO_i·v_j on entry and ds_j = ∂L/∂s_ij on exit:
        /// re-weighting: da_j = n·p·(w_j/x_j)·(dw_j − Σ_k w_k dw_k) where x_j &gt; 0, else 0, computed as
        /// κ·y_j^(p−1)·(dw_j − ⟨w, dw⟩) with y = x/max x and κ = n·p/(max x · Σ_k y_k^p) (see <see cref="StageTwo"/>);
        /// on a degenerate row da = dw. First stage: ds_j = (f′(s_j)/U)·(da_j − ⟨a, da⟩), where f′/U = a_j for exp.
        /// </summary>
        public void RowBackward(int r, int n, AttentionFamily f)
        {
            int tk = d.Keys;
            var g = G.AsSpan(r * tk, n);
            ReadOnlySpan<T> a = A.AsSpan(r * tk, n);
            if (f.Power is not null && kappa[r] > T.Zero)
            {
                T dot = TensorPrimitives.Dot<T>(W.AsSpan(r * tk, n), g);
                CenterAndScale(g, dot, X.AsSpan(r * tk, n), kappa[r]);
            }
            T dot2 = TensorPrimitives.Dot(a, g);
            CenterAndScale(g, dot2, f.Positive == PositiveFunction.Exp ? a : Sig.AsSpan(r * tk, n), T.One);
        }

        /// <summary>dq_i = λ_i·dQ'_i and dk̃_j, taken back through the QK normalisation when there is one.</summary>
        public void FinishGradients(T[] q, T[] k, T[] dq, T[] dk, int bh, AttentionFamily f)
        {
            int D = d.HeadDim, tk = d.Keys;
            int qBase = bh * d.Queries * D, kBase = bh * tk * D;
            for (int i = 0; i < d.Queries; i++)
            {
                var g = dq.AsSpan(qBase + i * D, D);
                TensorPrimitives.Multiply(g, T.CreateChecked(f.RowScale(d.Visible(i))), g);
                if (f.NormalizeQK) NormalizeBackward(q.AsSpan(qBase + i * D, D), g, tmp);
            }
            if (f.NormalizeQK)
                for (int j = 0; j < tk; j++) NormalizeBackward(k.AsSpan(kBase + j * D, D), dk.AsSpan(kBase + j * D, D), tmp);
        }
    }

    // ------------------------------------------------------------------ the row stages

    private static readonly T Eps2 = T.CreateChecked(AttentionFamily.NormEpsilon * AttentionFamily.NormEpsilon);

    /// <summary>1 / √max(‖x‖², ε²).</summary>
    private static T InverseNorm(ReadOnlySpan<T> x) => T.One / T.Sqrt(T.Max(TensorPrimitives.SumOfSquares(x), Eps2));

    /// <summary>
    /// In place on g = ∂L/∂x̂ for x̂ = x·inv, inv = 1/√max(‖x‖², ε²): g ← inv·(g − x̂ (x̂·g)) when ‖x‖ ≥ ε, else g ← inv·g
    /// (below ε the norm is the constant ε).
    /// </summary>
    private static void NormalizeBackward(ReadOnlySpan<T> x, Span<T> g, T[] scratch)
    {
        T ss = TensorPrimitives.SumOfSquares(x);
        T inv = T.One / T.Sqrt(T.Max(ss, Eps2));
        if (ss >= Eps2)
        {
            var xh = scratch.AsSpan(0, x.Length);
            TensorPrimitives.Multiply(x, inv, xh);
            T dot = TensorPrimitives.Dot<T>(xh, g);
            TensorPrimitives.MultiplyAdd(xh, -dot, g, g);
        }
        TensorPrimitives.Multiply(g, inv, g);
    }

    /// <summary>ln of the smallest normal number: exp below it would return a subnormal (slow on x86, and negligible).</summary>
    private static readonly T LogMinNormal = T.CreateChecked(Math.Log(MinNormal));

    /// <summary>The smallest positive normal number of T (2^−126 for float, 2^−1022 for double).</summary>
    private static double MinNormal => typeof(T) == typeof(float) ? Math.ScaleB(1, -126) : Math.ScaleB(1, -1022);

    /// <summary>
    /// First stage, in place on the scores s of one row: s ← a = f(s)/Σ f(s). For the backward, sig (when given)
    /// receives f′(s)/Σ f(s). Both are computed with a row factor e^−μ that the l1 normalisation cancels:
    /// exp uses μ = max s (the usual stable Softmax, with exponents below ln(min normal) clamped there: such terms
    /// are under 1e-38 of the row maximum); Softplus uses μ = 0 unless every score is negative, then μ = max s,
    /// writing f(s)·e^−μ = e^(s−μ)·ln(1+e^s)/e^s so rows of very negative scores do not underflow to 0/0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void StageOne(Span<T> s, Span<T> sig, PositiveFunction f)
    {
        int n = s.Length, W = Vector<T>.Count, j = 0;
        T max = TensorPrimitives.Max<T>(s);
        ref T S = ref MemoryMarshal.GetReference(s);
        var vsum = Vector<T>.Zero;
        T sum = T.Zero;
        if (f == PositiveFunction.Exp)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                var wmax = Vector512.Create(max); var wlo = Vector512.Create(LogMinNormal);
                var wsum = Vector512<T>.Zero;
                for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                {
                    var e = VExp(Vector512.Max(Vector512.LoadUnsafe(ref S, (nuint)j) - wmax, wlo));
                    e.StoreUnsafe(ref S, (nuint)j);
                    wsum += e;
                }
                sum = Vector512.Sum(wsum);
            }
            var vmax = new Vector<T>(max); var vlo = new Vector<T>(LogMinNormal);
            for (; j + W <= n; j += W)
            {
                var e = VExp(Vector.Max(Vector.LoadUnsafe(ref S, (nuint)j) - vmax, vlo));
                e.StoreUnsafe(ref S, (nuint)j);
                vsum += e;
            }
            for (; j < n; j++) { T e = T.Exp(T.Max(s[j] - max, LogMinNormal)); s[j] = e; sum += e; }
        }
        else if (max >= T.Zero)
        {
            // softplus(s) = max(s, 0) + ln(1 + t), σ(s) = (s ≥ 0 ? 1 : t)/(1 + t), t = e^−|s| ∈ (0, 1]. Where ln(1 + t)
            // rounds a tiny t away, softplus is below ε·ln 2 while the row's maximum contributes at least ln 2, so the
            // normalised weights are unaffected.
            bool wantSig = !sig.IsEmpty;
            ref T G = ref MemoryMarshal.GetReference(sig);
            if (Vector512.IsHardwareAccelerated)
            {
                var wsum = Vector512<T>.Zero;
                for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                {
                    var x = Vector512.LoadUnsafe(ref S, (nuint)j);
                    var t = VExp(-Vector512.Abs(x));
                    var onePlusT = Vector512<T>.One + t;
                    var u = Vector512.Max(x, Vector512<T>.Zero) + VLog(onePlusT);
                    u.StoreUnsafe(ref S, (nuint)j);
                    wsum += u;
                    if (wantSig) (Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.One, t) / onePlusT).StoreUnsafe(ref G, (nuint)j);
                }
                sum = Vector512.Sum(wsum);
            }
            for (; j + W <= n; j += W)
            {
                var x = Vector.LoadUnsafe(ref S, (nuint)j);
                var t = VExp(-Vector.Abs(x));
                var onePlusT = Vector<T>.One + t;
                var u = Vector.Max(x, Vector<T>.Zero) + VLog(onePlusT);
                u.StoreUnsafe(ref S, (nuint)j);
                vsum += u;
                if (wantSig) (Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<T>.Zero), Vector<T>.One, t) / onePlusT).StoreUnsafe(ref G, (nuint)j);
            }
            for (; j < n; j++)
            {
                T x = s[j], t = T.Exp(-T.Abs(x));
                s[j] = T.Max(x, T.Zero) + T.Log(T.One + t);
                sum += s[j];
                if (wantSig) sig[j] = (x >= T.Zero ? T.One : t) / (T.One + t);
            }
        }
        else
        {
            for (; j < n; j++)
            {
                T e = T.Exp(s[j]), shifted = T.Exp(s[j] - max), u = T.One + e;
                T ratio = u == T.One ? T.One : T.Log(u) / (u - T.One); // ln(1+e)/e, accurate for tiny e (Kahan)
                if (!sig.IsEmpty) sig[j] = shifted / u;                // σ(s)·e^−μ
                s[j] = shifted * ratio;
                sum += s[j];
            }
        }
        sum += Vector.Sum(vsum);
        TensorPrimitives.Divide(s, sum, s);
        if (!sig.IsEmpty) TensorPrimitives.Divide(sig, sum, sig);
    }

    /// <summary>
    /// Re-weighting of one row of first-stage weights a (n = its length): x = n·a − o, y = ReLU(x)/max x,
    /// w = y^p / Σ y^p. Dividing by max x keeps every power in [0, 1], so nothing overflows at any length, and w does
    /// not depend on that factor. Values of y whose p-th power would be subnormal are set to 0 (they are below 1e-38
    /// of the row's largest term). For the backward, <paramref name="dpow"/> (when given) receives y^(p−1) (0 where
    /// y = 0) and the result is κ = n·p/(max x·Σ y^p), so that n·p·w_j/x_j = κ·y_j^(p−1).
    /// A degenerate row (max x ≤ 0: every r_j is zero) keeps w = a and returns 0. <paramref name="w"/> may alias a.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T StageTwo(ReadOnlySpan<T> a, int n, Span<T> dpow, Span<T> w, double p)
    {
        T nT = T.CreateChecked(n), o = T.CreateChecked(AttentionFamily.ReweightOffset(n));
        T xMax = nT * TensorPrimitives.Max(a) - o;                                        // max x, as x is increasing in a
        if (!(xMax > T.Zero))
        {
            a.CopyTo(w);
            return T.Zero;
        }
        int len = a.Length, W = Vector<T>.Count, j2 = 0;
        bool integer = p == Math.Floor(p) && p <= 1 << 20;
        int e = integer ? (int)p : 0;
        T pT = T.CreateChecked(p), cut = Cutoff(p), scale = nT / xMax, shift = o / xMax;
        bool wantD = !dpow.IsEmpty;
        ref T Ar = ref MemoryMarshal.GetReference(a);
        ref T Wr = ref MemoryMarshal.GetReference(w);
        ref T Dr = ref MemoryMarshal.GetReference(dpow);
        T sum = T.Zero;
        if (Vector512.IsHardwareAccelerated)
        {
            var wsum = Vector512<T>.Zero;
            var wscale = Vector512.Create(scale); var wshift = Vector512.Create(shift); var wcut = Vector512.Create(cut);
            for (; j2 + Vector512<T>.Count <= len; j2 += Vector512<T>.Count)
            {
                var y = Vector512.LoadUnsafe(ref Ar, (nuint)j2) * wscale - wshift;
                var keep = Vector512.GreaterThanOrEqual(y, wcut);
                y = Vector512.ConditionalSelect(keep, y, Vector512<T>.Zero);
                var d = integer ? PowInt(y, e - 1) : VExp(VLog(y) * Vector512.Create(pT - T.One));
                d = Vector512.ConditionalSelect(keep, d, Vector512<T>.Zero);
                var r = d * y;
                r.StoreUnsafe(ref Wr, (nuint)j2);
                if (wantD) d.StoreUnsafe(ref Dr, (nuint)j2);
                wsum += r;
            }
            sum = Vector512.Sum(wsum);
        }
        var vsum = Vector<T>.Zero;
        var vscale = new Vector<T>(scale); var vshift = new Vector<T>(shift); var vcut = new Vector<T>(cut);
        for (; j2 + W <= len; j2 += W)
        {
            var y = Vector.LoadUnsafe(ref Ar, (nuint)j2) * vscale - vshift;     // x / max x
            var keep = Vector.GreaterThanOrEqual(y, vcut);
            y = Vector.ConditionalSelect(keep, y, Vector<T>.Zero);
            var d = integer ? PowInt(y, e - 1) : VExp(VLog(y) * new Vector<T>(pT - T.One));
            d = Vector.ConditionalSelect(keep, d, Vector<T>.Zero);
            var r = d * y;
            r.StoreUnsafe(ref Wr, (nuint)j2);
            if (wantD) d.StoreUnsafe(ref Dr, (nuint)j2);
            vsum += r;
        }
        sum += Vector.Sum(vsum);
        for (; j2 < len; j2++)
        {
            T y = a[j2] * scale - shift;
            T d = T.Zero;
            if (y >= cut) d = integer ? PowInt(y, e - 1) : T.Exp(T.Log(y) * (pT - T.One));
            else y = T.Zero;
            T r = d * y;
            w[j2] = r;
            if (wantD) dpow[j2] = d;
            sum += r;
        }
        // sum ≥ 1: the maximum contributes 1^p.
        TensorPrimitives.Multiply(w, T.One / sum, w);
        return nT * pT / (xMax * sum);
    }

    /// <summary>g ← κ·m ⊙ (g − c), one pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CenterAndScale(Span<T> g, T c, ReadOnlySpan<T> m, T kappa)
    {
        int n = g.Length, W = Vector<T>.Count, j = 0;
        ref T Gr = ref MemoryMarshal.GetReference(g);
        ref T Mr = ref MemoryMarshal.GetReference(m);
        if (Vector512.IsHardwareAccelerated)
        {
            var wc = Vector512.Create(c); var wk = Vector512.Create(kappa);
            for (; j + Vector512<T>.Count <= n; j += Vector512<T>.Count)
                ((Vector512.LoadUnsafe(ref Gr, (nuint)j) - wc) * Vector512.LoadUnsafe(ref Mr, (nuint)j) * wk).StoreUnsafe(ref Gr, (nuint)j);
        }
        var vc = new Vector<T>(c); var vk = new Vector<T>(kappa);
        for (; j + W <= n; j += W)
            ((Vector.LoadUnsafe(ref Gr, (nuint)j) - vc) * Vector.LoadUnsafe(ref Mr, (nuint)j) * vk).StoreUnsafe(ref Gr, (nuint)j);
        for (; j < n; j++) g[j] = (g[j] - c) * m[j] * kappa;
    }

    /// <summary>The smallest y whose p-th power is still a normal number.</summary>
    private static T Cutoff(double p) =>
        T.CreateChecked(Math.Exp(Math.Log(MinNormal) / p) * 1.01);

    /// <summary>y^e for e ≥ 0 by square-and-multiply.</summary>
    private static Vector<T> PowInt(Vector<T> y, int e)
    {
        var result = (e & 1) != 0 ? y : Vector<T>.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }

    private static Vector512<T> PowInt(Vector512<T> y, int e)
    {
        var result = (e & 1) != 0 ? y : Vector512<T>.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }

    private static T PowInt(T y, int e)
    {
        T result = (e & 1) != 0 ? y : T.One;
        for (e >>= 1; e > 0; e >>= 1)
        {
            y *= y;
            if ((e & 1) != 0) result *= y;
        }
        return result;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> VExp(Vector<T> x)
    {
        if (typeof(T) == typeof(float)) return Vector.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> VExp(Vector512<T> x)
    {
        if (typeof(T) == typeof(float)) return Vector512.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> VLog(Vector512<T> x)
    {
        if (typeof(T) == typeof(float)) return Vector512.Log(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> VLog(Vector<T> x)
    {
        if (typeof(T) == typeof(float)) return Vector.Log(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    // ------------------------------------------------------------------ small matrix products (register-blocked, 4 rows)
    // The loops below (and the row stages above) are compiled fully optimised on first use
    // (AggressiveOptimization): they run long loops over Vector<T> from the very first call, where unoptimised
    // tier-0 code is many times slower.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fma(Vector<T> x, Vector<T> y, Vector<T> acc)
    {
        if (typeof(T) == typeof(float)) return Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }

    /// <summary>
    /// c[r·ldc + j] = Σ_p a[a_r + p]·bt[p·ldb + j] for r &lt; 4, j &lt; n, p &lt; kdim: four rows of a (at offsets a0..a3)
    /// times a row-major [kdim, ≥n] matrix. Each loaded vector of bt feeds four rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoresBlock(T[] a, int a0, int a1, int a2, int a3, T[] bt, int ldb, int kdim, int n, T[] c, int ldc, int cOff)
    {
        int W = Vector<T>.Count;
        ref T A = ref MemoryMarshal.GetArrayDataReference(a);
        ref T B = ref MemoryMarshal.GetArrayDataReference(bt);
        ref T C = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(c), cOff);
        int j = Vector512.IsHardwareAccelerated ? ScoresBlock512(ref A, a0, a1, a2, a3, ref B, ldb, kdim, n, ref C, ldc) : 0;
        for (; j + 2 * W <= n; j += 2 * W)
        {
            Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                var b1 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j + W));
                var x = new Vector<T>(Unsafe.Add(ref A, a0 + p)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = new Vector<T>(Unsafe.Add(ref A, a1 + p)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = new Vector<T>(Unsafe.Add(ref A, a2 + p)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = new Vector<T>(Unsafe.Add(ref A, a3 + p)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)j); c01.StoreUnsafe(ref C, (nuint)(j + W));
            c10.StoreUnsafe(ref C, (nuint)(ldc + j)); c11.StoreUnsafe(ref C, (nuint)(ldc + j + W));
            c20.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c21.StoreUnsafe(ref C, (nuint)(2 * ldc + j + W));
            c30.StoreUnsafe(ref C, (nuint)(3 * ldc + j)); c31.StoreUnsafe(ref C, (nuint)(3 * ldc + j + W));
        }
        for (; j + W <= n; j += W)
        {
            Vector<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                c0 = Fma(new Vector<T>(Unsafe.Add(ref A, a0 + p)), b0, c0);
                c1 = Fma(new Vector<T>(Unsafe.Add(ref A, a1 + p)), b0, c1);
                c2 = Fma(new Vector<T>(Unsafe.Add(ref A, a2 + p)), b0, c2);
                c3 = Fma(new Vector<T>(Unsafe.Add(ref A, a3 + p)), b0, c3);
            }
            c0.StoreUnsafe(ref C, (nuint)j); c1.StoreUnsafe(ref C, (nuint)(ldc + j));
            c2.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c3.StoreUnsafe(ref C, (nuint)(3 * ldc + j));
        }
        for (; j < n; j++)
        {
            T s0 = T.Zero, s1 = T.Zero, s2 = T.Zero, s3 = T.Zero;
            for (int p = 0; p < kdim; p++)
            {
                T b = bt[p * ldb + j];
                s0 += a[a0 + p] * b; s1 += a[a1 + p] * b; s2 += a[a2 + p] * b; s3 += a[a3 + p] * b;
            }
            c[cOff + j] = s0; c[cOff + ldc + j] = s1; c[cOff + 2 * ldc + j] = s2; c[cOff + 3 * ldc + j] = s3;
        }
    }

    /// <summary>
    /// c[cOff + r·cols + t] = Σ_j a[r·lda + j]·b[bOff + j·cols + t] for r &lt; rb, j &lt; n, t &lt; cols: a block of
    /// weights (4 rows, rows ≥ rb ignored) times a row-major [n, cols] matrix (values or keys).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightsTimesValues(T[] a, int aOff, int lda, int rb, int n, T[] b, int bOff, int cols, T[] c, int cOff)
    {
        int W = Vector<T>.Count;
        ref T A = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(a), aOff);
        ref T B = ref MemoryMarshal.GetArrayDataReference(b);
        ref T C = ref MemoryMarshal.GetArrayDataReference(c);
        int t = Vector512.IsHardwareAccelerated ? WeightsTimesValues512(ref A, lda, rb, n, ref B, bOff, cols, ref C, cOff) : 0;
        for (; t + 2 * W <= cols; t += 2 * W)
        {
            Vector<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * cols + t));
                var b1 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * cols + t + W));
                var x = new Vector<T>(Unsafe.Add(ref A, j)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = new Vector<T>(Unsafe.Add(ref A, lda + j)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = new Vector<T>(Unsafe.Add(ref A, 2 * lda + j)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = new Vector<T>(Unsafe.Add(ref A, 3 * lda + j)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)(cOff + t)); c01.StoreUnsafe(ref C, (nuint)(cOff + t + W));
            if (rb > 1) { c10.StoreUnsafe(ref C, (nuint)(cOff + cols + t)); c11.StoreUnsafe(ref C, (nuint)(cOff + cols + t + W)); }
            if (rb > 2) { c20.StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t)); c21.StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t + W)); }
            if (rb > 3) { c30.StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t)); c31.StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t + W)); }
        }
        for (; t + W <= cols; t += W)
        {
            Vector<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector.LoadUnsafe(ref B, (nuint)(bOff + j * cols + t));
                c0 = Fma(new Vector<T>(Unsafe.Add(ref A, j)), b0, c0);
                c1 = Fma(new Vector<T>(Unsafe.Add(ref A, lda + j)), b0, c1);
                c2 = Fma(new Vector<T>(Unsafe.Add(ref A, 2 * lda + j)), b0, c2);
                c3 = Fma(new Vector<T>(Unsafe.Add(ref A, 3 * lda + j)), b0, c3);
            }
            c0.StoreUnsafe(ref C, (nuint)(cOff + t));
            if (rb > 1) c1.StoreUnsafe(ref C, (nuint)(cOff + cols + t));
            if (rb > 2) c2.StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t));
            if (rb > 3) c3.StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t));
        }
        for (; t < cols; t++)
            for (int r = 0; r < rb; r++)
            {
                T s = T.Zero;
                for (int j = 0; j < n; j++) s += a[aOff + r * lda + j] * b[bOff + j * cols + t];
                c[cOff + r * cols + t] = s;
            }
    }

    /// <summary>
    /// c[cOff + j·cols + t] += Σ_r a[r·lda + j]·b[bOff + r·cols + t] for j &lt; n, t &lt; cols and the rows
    /// max(0, j − firstSeen) ≤ r &lt; rows that see key j: the transposed product that accumulates the key and value
    /// gradients of a block of query rows (b holds the block's rows of dO or Q'). Each output row is read and written
    /// once; its sum over the block's rows runs in registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTransposed(T[] a, int lda, int rows, int n, int firstSeen, T[] b, int bOff, int cols, T[] c, int cOff)
    {
        int W = Vector<T>.Count;
        ref T Ar = ref MemoryMarshal.GetArrayDataReference(a);
        ref T B = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(b), bOff);
        ref T C = ref MemoryMarshal.GetArrayDataReference(c);
        int j = 0, t512 = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            t512 = cols / (2 * Vector512<T>.Count) * (2 * Vector512<T>.Count);
            if (t512 > 0)
                for (; j + 4 <= n; j += 4)
                    AccumulateTransposed512(ref Ar, lda, rows, j, firstSeen, ref B, cols, t512, ref C, cOff);
        }
        int jq = j;
        for (; j < n; j++) AccumulateTransposedRow(ref Ar, lda, rows, j, firstSeen, ref B, cols, 0, ref C, cOff, c);
        if (t512 < cols)
            for (int jj = 0; jj < jq; jj++) AccumulateTransposedRow(ref Ar, lda, rows, jj, firstSeen, ref B, cols, t512, ref C, cOff, c);
    }

    /// <summary>One key row j of <see cref="AccumulateTransposed"/>, columns from <paramref name="tStart"/> on.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateTransposedRow(ref T Ar, int lda, int rows, int j, int firstSeen, ref T B, int cols, int tStart, ref T C, int cOff, T[] c)
    {
        int W = Vector<T>.Count;
        {
            int r0 = Math.Max(0, j - firstSeen), row = cOff + j * cols, t = tStart;
            ref T Aj = ref Unsafe.Add(ref Ar, j);
            for (; t + 4 * W <= cols; t += 4 * W)
            {
                Vector<T> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int r = r0; r < rows; r++)
                {
                    var x = new Vector<T>(Unsafe.Add(ref Aj, r * lda));
                    int br = r * cols + t;
                    s0 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)br), s0);
                    s1 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + W)), s1);
                    s2 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + 2 * W)), s2);
                    s3 = Fma(x, Vector.LoadUnsafe(ref B, (nuint)(br + 3 * W)), s3);
                }
                (Vector.LoadUnsafe(ref C, (nuint)(row + t)) + s0).StoreUnsafe(ref C, (nuint)(row + t));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + W)) + s1).StoreUnsafe(ref C, (nuint)(row + t + W));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + 2 * W)) + s2).StoreUnsafe(ref C, (nuint)(row + t + 2 * W));
                (Vector.LoadUnsafe(ref C, (nuint)(row + t + 3 * W)) + s3).StoreUnsafe(ref C, (nuint)(row + t + 3 * W));
            }
            for (; t + W <= cols; t += W)
            {
                Vector<T> s0 = default, s1 = default;
                int r = r0;
                for (; r + 1 < rows; r += 2)
                {
                    s0 = Fma(new Vector<T>(Unsafe.Add(ref Aj, r * lda)), Vector.LoadUnsafe(ref B, (nuint)(r * cols + t)), s0);
                    s1 = Fma(new Vector<T>(Unsafe.Add(ref Aj, (r + 1) * lda)), Vector.LoadUnsafe(ref B, (nuint)((r + 1) * cols + t)), s1);
                }
                if (r < rows) s0 = Fma(new Vector<T>(Unsafe.Add(ref Aj, r * lda)), Vector.LoadUnsafe(ref B, (nuint)(r * cols + t)), s0);
                (Vector.LoadUnsafe(ref C, (nuint)(row + t)) + (s0 + s1)).StoreUnsafe(ref C, (nuint)(row + t));
            }
            for (; t < cols; t++)
            {
                T s = T.Zero;
                for (int r = r0; r < rows; r++) s += Unsafe.Add(ref Aj, r * lda) * Unsafe.Add(ref B, r * cols + t);
                c[row + t] += s;
            }
        }
    }
    // ------------------------------------------------------------------ 512-bit micro-kernels
    // Where the hardware has 512-bit vectors, the products above run their full-width column blocks here first
    // (16 floats per vector instead of Vector<T>'s 8). Every output element is summed in the same order, with the same
    // fused multiply-adds, as in the Vector<T> loops, so the results are bit-identical to theirs.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> acc)
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), acc.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), acc.As<T, double>()).As<double, T>();
        return x * y + acc;
    }

    /// <summary>The 512-bit part of <see cref="ScoresBlock"/>: key columns in blocks of 2·16 (floats); returns the first column left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int ScoresBlock512(ref T A, int a0, int a1, int a2, int a3, ref T B, int ldb, int kdim, int n, ref T C, int ldc)
    {
        int W = Vector512<T>.Count, j = 0;
        for (; j + 2 * W <= n; j += 2 * W)
        {
            Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j + W));
                var x = Vector512.Create(Unsafe.Add(ref A, a0 + p)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector512.Create(Unsafe.Add(ref A, a1 + p)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector512.Create(Unsafe.Add(ref A, a2 + p)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector512.Create(Unsafe.Add(ref A, a3 + p)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)j); c01.StoreUnsafe(ref C, (nuint)(j + W));
            c10.StoreUnsafe(ref C, (nuint)(ldc + j)); c11.StoreUnsafe(ref C, (nuint)(ldc + j + W));
            c20.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c21.StoreUnsafe(ref C, (nuint)(2 * ldc + j + W));
            c30.StoreUnsafe(ref C, (nuint)(3 * ldc + j)); c31.StoreUnsafe(ref C, (nuint)(3 * ldc + j + W));
        }
        // The last partial block is computed at full width when the rows of bt and c have room for it: the extra
        // columns lie past every row's causal limit, where the callers never read (they are overwritten or ignored).
        int room = Math.Min(ldb, ldc);
        for (; j < n && j + W <= room; j += W)
        {
            Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int p = 0; p < kdim; p++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(p * ldb + j));
                c0 = Fma(Vector512.Create(Unsafe.Add(ref A, a0 + p)), b0, c0);
                c1 = Fma(Vector512.Create(Unsafe.Add(ref A, a1 + p)), b0, c1);
                c2 = Fma(Vector512.Create(Unsafe.Add(ref A, a2 + p)), b0, c2);
                c3 = Fma(Vector512.Create(Unsafe.Add(ref A, a3 + p)), b0, c3);
            }
            c0.StoreUnsafe(ref C, (nuint)j); c1.StoreUnsafe(ref C, (nuint)(ldc + j));
            c2.StoreUnsafe(ref C, (nuint)(2 * ldc + j)); c3.StoreUnsafe(ref C, (nuint)(3 * ldc + j));
        }
        return Math.Min(j, n);
    }

    /// <summary>The 512-bit part of <see cref="WeightsTimesValues"/>: output columns in blocks of 2·16; returns the first column left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int WeightsTimesValues512(ref T A, int lda, int rb, int n, ref T B, int bOff, int cols, ref T C, int cOff)
    {
        int W = Vector512<T>.Count, t = 0;
        for (; t + 2 * W <= cols; t += 2 * W)
        {
            Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int j = 0; j < n; j++)
            {
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(bOff + j * cols + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(bOff + j * cols + t + W));
                var x = Vector512.Create(Unsafe.Add(ref A, j)); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
                x = Vector512.Create(Unsafe.Add(ref A, lda + j)); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
                x = Vector512.Create(Unsafe.Add(ref A, 2 * lda + j)); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
                x = Vector512.Create(Unsafe.Add(ref A, 3 * lda + j)); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            }
            c00.StoreUnsafe(ref C, (nuint)(cOff + t)); c01.StoreUnsafe(ref C, (nuint)(cOff + t + W));
            if (rb > 1) { c10.StoreUnsafe(ref C, (nuint)(cOff + cols + t)); c11.StoreUnsafe(ref C, (nuint)(cOff + cols + t + W)); }
            if (rb > 2) { c20.StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t)); c21.StoreUnsafe(ref C, (nuint)(cOff + 2 * cols + t + W)); }
            if (rb > 3) { c30.StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t)); c31.StoreUnsafe(ref C, (nuint)(cOff + 3 * cols + t + W)); }
        }
        return t;
    }

    /// <summary>
    /// The 512-bit part of <see cref="AccumulateTransposed"/> for four key rows j..j+3 at once and the columns below
    /// <paramref name="tEnd"/> (a multiple of 2·16): eight independent sums instead of two per pass over the rows r,
    /// each still taken over r in ascending order from the first row that sees its key.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AccumulateTransposed512(ref T Ar, int lda, int rows, int j, int firstSeen, ref T B, int cols, int tEnd, ref T C, int cOff)
    {
        int W = Vector512<T>.Count;
        int q0 = Math.Max(0, j - firstSeen), q1 = Math.Max(0, j + 1 - firstSeen), q2 = Math.Max(0, j + 2 - firstSeen), q3 = Math.Max(0, j + 3 - firstSeen);
        ref T Aj = ref Unsafe.Add(ref Ar, j);
        for (int t = 0; t < tEnd; t += 2 * W)
        {
            Vector512<T> s00 = default, s01 = default, s10 = default, s11 = default, s20 = default, s21 = default, s30 = default, s31 = default;
            int r = q0, common = Math.Min(q3, rows);
            // the few rows that see key j but not all of j+1..j+3
            for (; r < common; r++)
            {
                ref T Arow = ref Unsafe.Add(ref Aj, r * lda);
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t + W));
                var x = Vector512.Create(Arow); s00 = Fma(x, b0, s00); s01 = Fma(x, b1, s01);
                if (r >= q1) { x = Vector512.Create(Unsafe.Add(ref Arow, 1)); s10 = Fma(x, b0, s10); s11 = Fma(x, b1, s11); }
                if (r >= q2) { x = Vector512.Create(Unsafe.Add(ref Arow, 2)); s20 = Fma(x, b0, s20); s21 = Fma(x, b1, s21); }
            }
            for (; r < rows; r++)
            {
                ref T Arow = ref Unsafe.Add(ref Aj, r * lda);
                var b0 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t));
                var b1 = Vector512.LoadUnsafe(ref B, (nuint)(r * cols + t + W));
                var x = Vector512.Create(Arow); s00 = Fma(x, b0, s00); s01 = Fma(x, b1, s01);
                x = Vector512.Create(Unsafe.Add(ref Arow, 1)); s10 = Fma(x, b0, s10); s11 = Fma(x, b1, s11);
                x = Vector512.Create(Unsafe.Add(ref Arow, 2)); s20 = Fma(x, b0, s20); s21 = Fma(x, b1, s21);
                x = Vector512.Create(Unsafe.Add(ref Arow, 3)); s30 = Fma(x, b0, s30); s31 = Fma(x, b1, s31);
            }
            int row = cOff + j * cols + t;
            AddTo(ref C, row, s00); AddTo(ref C, row + W, s01);
            AddTo(ref C, row + cols, s10); AddTo(ref C, row + cols + W, s11);
            AddTo(ref C, row + 2 * cols, s20); AddTo(ref C, row + 2 * cols + W, s21);
            AddTo(ref C, row + 3 * cols, s30); AddTo(ref C, row + 3 * cols + W, s31);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddTo(ref T C, int at, Vector512<T> s) => (Vector512.LoadUnsafe(ref C, (nuint)at) + s).StoreUnsafe(ref C, (nuint)at);
}
