using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

/// <summary>
/// The causal attention kernels, generic over float and double. Work is split over (batch, head) pairs; within a
/// head, query rows are processed in blocks of <see cref="R"/>. A block only touches the keys its last row can
/// see, so nothing above the causal diagonal is computed beyond the block's own R×R corner. Each row's scores are
/// kept in a scratch row of at most Tk values (in L1 for the usual lengths) while the row-wise stages run on them.
/// The backward recomputes each block's scores and weights from q and k (FlashAttention's trade: O(T·D) memory
/// instead of O(T²)); forward and backward share the row code, so the recomputed weights are bit-identical.
/// </summary>
internal static partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Query rows per block: four rows share every key load in the score and value products.</summary>
    private const int R = 4;

    // ------------------------------------------------------------------ drivers

    public static T[] Forward(T[] q, T[] k, T[] v, AttentionDims d, AttentionFamily f)
    {
        AttentionOperand qo = AttentionOperand.Compact(d.Heads, d.Queries, d.HeadDim), ko = AttentionOperand.Compact(d.Heads, d.Keys, d.HeadDim);
        return Forward(q, qo, k, ko, v, ko, d, f);
    }

    /// <summary>The forward with q, k and v read where they lie (see <see cref="AttentionOperand"/>); the output is compact.</summary>
    public static T[] Forward(T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[] v, AttentionOperand vo, AttentionDims d, AttentionFamily f)
    {
        var output = CpuArrayPool.RentUninitialized<T>(d.Batch * d.Heads * d.Queries * d.HeadDim);   // every row is written by its head
        EngineThreads.For(d.Batch * d.Heads, (long)d.Queries * d.Keys * d.HeadDim, (start, end) =>
        {
            using var ws = new Workspace(d, backward: false);
            for (int bh = start; bh < end; bh++) ForwardHead(ws, q, qo, k, ko, v, vo, d, f, output, 0, bh);
        });
        return output;
    }

    /// <summary>Head <paramref name="bh"/> of the forward, written compact from <paramref name="outOffset"/> + bh·Tq·D of <paramref name="output"/>.</summary>
    private static void ForwardHead(Workspace ws, T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[] v, AttentionOperand vo,
        AttentionDims d, AttentionFamily f, T[] output, int outOffset, int bh)
    {
        ws.Prepare(q, qo, k, ko, null, default, bh, f);
        int vBase = vo.Head(bh, d.Heads), oBase = outOffset + bh * d.Queries * d.HeadDim;
        for (int i0 = 0; i0 < d.Queries; i0 += R)
        {
            int rb = Math.Min(R, d.Queries - i0), nMax = d.Visible(i0 + rb - 1);
            ws.BlockWeights(i0, rb, nMax, f, keepStages: false, 0, normalize: false);
            WeightsTimesValues(ws.A, 0, d.Keys, rb, nMax, v, vBase, vo.RowStride, d.HeadDim, output, oBase + i0 * d.HeadDim, ws.RowScale);
        }
    }

    /// <summary>
    /// The forward for one sequence that grows a few rows at a time (a decoder over a KV cache): its scratch, one
    /// workspace per head sized for the longest call (arrays of its own, not the shared pool's), and its parallel
    /// loop's delegate are made once, so a call allocates nothing. Each head's workspace
    /// keeps the transposed (and, for LSSA, normalised) keys of earlier calls, so a call prepares only its new keys:
    /// the caller promises that keys already seen do not change, and calls <see cref="Restart"/> when they may.
    /// Each head computes exactly what the one-call forward computes. One thread at a time.
    /// </summary>
    public sealed class Session : IDisposable
    {
        private readonly AttentionDims capacity;
        private readonly Workspace[] spaces;
        private readonly Action<int, int> body;
        // The call in progress, read by body.
        private T[] q = [], k = [], v = [], output = [];
        private AttentionOperand qo, ko, vo;
        private AttentionDims d;
        private AttentionFamily f = null!;
        private int outOffset;

        /// <summary>Scratch for calls of up to <paramref name="capacity"/>.Queries rows over up to .Keys keys, with its batch, heads and head dim.</summary>
        public Session(AttentionDims capacity)
        {
            this.capacity = capacity;
            spaces = new Workspace[capacity.Batch * capacity.Heads];
            try { for (int i = 0; i < spaces.Length; i++) spaces[i] = new Workspace(capacity, backward: false, keepKeys: true); }
            catch { Dispose(); throw; }
            body = (start, end) =>
            {
                for (int bh = start; bh < end; bh++)
                {
                    spaces[bh].Retarget(d);
                    ForwardHead(spaces[bh], q, qo, k, ko, v, vo, d, f, output, outOffset, bh);
                }
            };
        }

        /// <summary>Forgets the kept keys: the next call reads every key afresh (a new sequence in the same buffers).</summary>
        public void Restart()
        {
            foreach (var ws in spaces) ws.ForgetKeys();
        }

        /// <summary>The forward of <paramref name="dims"/> (within the capacity) into <paramref name="into"/> from <paramref name="at"/>, compact [B, H, Tq, D].</summary>
        public void Forward(T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[] v, AttentionOperand vo, AttentionDims dims, AttentionFamily family, T[] into, int at)
        {
            if (dims.Batch != capacity.Batch || dims.Heads != capacity.Heads || dims.HeadDim != capacity.HeadDim || dims.Queries > capacity.Queries || dims.Keys > capacity.Keys)
                throw new ArgumentException($"causal_attention: a call of {dims} does not fit the session's {capacity}");
            (this.q, this.qo, this.k, this.ko, this.v, this.vo, d, f, output, outOffset) = (q, qo, k, ko, v, vo, dims, family, into, at);
            try { EngineThreads.For(dims.Batch * dims.Heads, (long)dims.Queries * dims.Keys * dims.HeadDim, body); }
            finally { this.q = this.k = this.v = output = []; }
        }

        /// <summary>Gives the scratch back.</summary>
        public void Dispose()
        {
            foreach (var ws in spaces) ws?.Dispose();
        }
    }

    public static T[] Weights(T[] q, T[] k, AttentionDims d, AttentionFamily f)
    {
        var weights = CpuArrayPool.Rent<T>(d.Batch * d.Heads * d.Queries * d.Keys);
        AttentionOperand qo = AttentionOperand.Compact(d.Heads, d.Queries, d.HeadDim), ko = AttentionOperand.Compact(d.Heads, d.Keys, d.HeadDim);
        EngineThreads.For(d.Batch * d.Heads, (long)d.Queries * d.Keys * d.HeadDim, (start, end) =>
        {
            using var ws = new Workspace(d, backward: false);
            for (int bh = start; bh < end; bh++)
            {
                ws.Prepare(q, qo, k, ko, null, default, bh, f);
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
        AttentionOperand qo = AttentionOperand.Compact(d.Heads, d.Queries, d.HeadDim), ko = AttentionOperand.Compact(d.Heads, d.Keys, d.HeadDim);
        return Backward(q, qo, k, ko, v, ko, dOut, d, f);
    }

    /// <summary>
    /// The backward with q, k and v read where they lie (see <see cref="AttentionOperand"/>), as the recorded forward
    /// left them; dOut and the gradients are compact.
    /// </summary>
    public static (T[] Dq, T[] Dk, T[] Dv) Backward(T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[] v, AttentionOperand vo,
        T[] dOut, AttentionDims d, AttentionFamily f)
    {
        int D = d.HeadDim, tk = d.Keys;
        var dq = CpuArrayPool.RentUninitialized<T>(d.Batch * d.Heads * d.Queries * D);   // every row is written by the dQ product below
        // dK and dV are sums over query blocks; each head clears its own rows just before it adds to them, in its
        // thread and while they stay in cache, rather than the whole arrays up front on the calling thread.
        var dk = CpuArrayPool.RentUninitialized<T>(d.Batch * d.Heads * tk * D);
        var dv = CpuArrayPool.RentUninitialized<T>(dk.Length);
        int bq = BackwardBlockRows(tk);
        EngineThreads.For(d.Batch * d.Heads, 3L * d.Queries * tk * D, (start, end) =>
        {
            using var ws = new Workspace(d, backward: true, blockRows: bq);
            for (int bh = start; bh < end; bh++)
            {
                ws.Prepare(q, qo, k, ko, v, vo, bh, f);
                int qBase = bh * d.Queries * D, kBase = bh * tk * D;
                dk.AsSpan(kBase, tk * D).Clear();
                dv.AsSpan(kBase, tk * D).Clear();
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
                        WeightsTimesValues(ws.G, s0 * tk, tk, rb, nMax, ws.Kn, 0, D, D, dq, qBase + (i0 + s0) * D);
                    }
                    // dV_j += Σ_i w_ij dO_i ; dK̃_j += Σ_i ds_ij Q'_i, over the rows i of the block that see key j
                    int firstSeen = i0 + d.QueryOffset; // key j is seen by the block's rows r ≥ j − firstSeen
                    AccumulateTransposed(w, tk, rows, nBlock, firstSeen, dOut, qBase + i0 * D, D, dv, kBase);
                    AccumulateTransposed(ws.G, tk, rows, nBlock, firstSeen, ws.Qs, i0 * D, D, dk, kBase);
                }
                ws.FinishGradients(q, qo, k, ko, dq, dk, bh, f);
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
}
