using System.Runtime.InteropServices;
using Engine.Cuda.Runtime;

namespace Engine.Cuda;

// Native kernels (attention.cu: prep and the per-row reference kernels; attention_tiled.cu: the tiled ones; attention.cuh:
// what both share) for the causal attention family: forward, handwritten backward and the weights for
// diagnostics. Like the CPU kernel, nothing of size Tq×Tk is kept: each pass recomputes the scores from the prepared
// (scaled, normalised) queries and keys, and the backward stores eight statistics per query row. The tiled kernels
// (FlashAttention-style, docs/cuda.md "Tiled attention") are the default; the per-row kernels stay as their reference.
public sealed partial class CudaBackend
{
    /// <summary>
    /// The tile geometry of the tiled kernels (attention_tiled.cu) (its ATTN_* defines): blocks of <see cref="Threads"/> threads,
    /// head dimensions up to <see cref="MaxHeadDim"/> (larger ones use the per-row reference kernels).
    /// </summary>
    internal static class AttentionTiles
    {
        public const int Threads = 64, MaxHeadDim = 128;

        /// <summary>Query rows per block of the forward and of the query-tile backward.</summary>
        public static int Queries(DType dtype) => dtype == DType.Float32 ? 32 : 16;

        /// <summary>Keys per block of the key-tile backward.</summary>
        public static int Keys(DType dtype) => dtype == DType.Float32 ? 16 : 8;
    }

    /// <summary>Runs the per-row reference attention kernels instead of the tiled ones (tests compare the two).</summary>
    internal bool ReferenceAttention { get; set; }

    private bool TiledAttention(AttentionArgs args) => !ReferenceAttention && args.D <= AttentionTiles.MaxHeadDim;

    /// <summary>Launches a tiled attention kernel: a grid-stride loop over <paramref name="tiles"/> tiles.</summary>
    private unsafe void LaunchTiles(string name, int tiles, Action<KernelArgs> args)
    {
        var kernel = Api.GetKernel("attention_tiled", name);
        using var a = new KernelArgs();
        args(a);
        Api.Launch(kernel, Math.Clamp(tiles, 1, 65535), AttentionTiles.Threads, a.Pointers);
    }

    private static int Tiles(int rows, int tile) => (rows + tile - 1) / tile;
    /// <summary>The call's sizes and family member as attention.cuh's <c>AttnArgs</c> reads them (same field order).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct AttentionArgs
    {
        public int Bh, Tq, Tk, D, Offset, Positive, Normalize, ScaleMode, Reweight, PowerInt, Heads, Window, Alibi, WarmRows;
        public double LogScaleDim, InvSqrtD, Power, Cut, LogMinNormal, Eps2, Tie;

        public static AttentionArgs Of(AttentionDims dims, AttentionFamily family, DType dtype)
        {
            double p = family.Power ?? 1;
            bool integer = p == Math.Floor(p) && p <= 1 << 20;
            return new AttentionArgs
            {
                Bh = dims.Batch * dims.Heads,
                Tq = dims.Queries,
                Tk = dims.Keys,
                D = dims.HeadDim,
                Offset = dims.QueryOffset,
                Positive = (int)family.Positive,          // attention.cuh reads the enums' values as its codes
                Normalize = family.NormalizeQK ? 1 : 0,
                ScaleMode = (int)family.Scale,
                Reweight = family.Power is null ? 0 : 1,
                PowerInt = integer ? (int)p : 0,
                Heads = dims.Heads,
                Window = family.Window ?? 0,
                Alibi = family.Alibi ? 1 : 0,
                WarmRows = family.WarmRows,
                LogScaleDim = Math.Log(family.ScaleDim),
                InvSqrtD = 1 / Math.Sqrt(family.HeadDim),
                Power = p,
                // the constants the CPU kernel uses: y below the cut has a subnormal p-th power and counts as 0;
                // exp arguments are clamped at ln(min normal).
                Cut = AttentionFamily.PowerCutoff(p, dtype),
                LogMinNormal = AttentionFamily.LogMinNormal(dtype),
                Eps2 = AttentionFamily.NormEpsilon * AttentionFamily.NormEpsilon,
                Tie = AttentionFamily.DegenerateTolerance(1, dtype),
            };
        }
    }

    private static void CheckAttention(CudaStorage q, AttentionDims dims, string op)
    {
        RequireFloat(q, op);
        if (dims.Keys != dims.QueryOffset + dims.Queries)
            throw new ArgumentException($"{op}: keys ({dims.Keys}) must equal query offset ({dims.QueryOffset}) + queries ({dims.Queries})");
    }

    /// <summary>qs = λ_i·q_i (unit-normalised first when the family normalises) and kn = k_j/‖k_j‖ (or k itself).</summary>
    private (CudaStorage Qs, CudaStorage? Kn) PrepareAttention(AttentionArgs args, CudaStorage q, CudaStorage k)
    {
        var qs = Allocate(q.DType, args.Bh * args.Tq * args.D);
        var kn = args.Normalize != 0 ? Allocate(q.DType, args.Bh * args.Tk * args.D) : null;
        int rows = args.Bh * args.Tq + (kn is null ? 0 : args.Bh * args.Tk);
        LaunchRows("attention", "attn_prep_" + Suffix(q.DType), rows, args.D, a =>
            a.Add(args).Add(q.Pointer).Add(k.Pointer).Add(qs.Pointer).Add(PtrOrNull(kn)));
        return (qs, kn);
    }

    private Storage AttentionForward(CudaStorage q, CudaStorage k, CudaStorage? v, AttentionDims dims, AttentionFamily family, bool weights)
    {
        var args = AttentionArgs.Of(dims, family, q.DType);
        var result = weights ? Allocate(q.DType, args.Bh * args.Tq * args.Tk) : Allocate(q.DType, args.Bh * args.Tq * args.D);
        if (result.Length == 0) return result;
        var (qs, kn) = PrepareAttention(args, q, k);
        using (qs)
        using (kn)
        {
            ulong knPtr = kn?.Pointer ?? k.Pointer;
            void Args(KernelArgs a) =>
                a.Add(args).Add(qs.Pointer).Add(knPtr).Add(PtrOrNull(v)).Add(weights ? 0UL : result.Pointer).Add(weights ? result.Pointer : 0UL);
            if (TiledAttention(args))
            {
                // the tiled kernel writes only the keys its query tiles see
                if (weights) Api.MemsetZero(result.Pointer, (long)result.Length * q.DType.SizeOf());
                LaunchTiles("attn_fwd_tiled_" + Suffix(q.DType), args.Bh * Tiles(args.Tq, AttentionTiles.Queries(q.DType)), Args);
            }
            else LaunchRows("attention", "attn_fwd_reference_" + Suffix(q.DType), args.Bh * args.Tq, args.Tk, Args);
        }
        return result;
    }

    /// <inheritdoc/>
    public Storage CausalAttentionForward(Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family)
    {
        const string op = "causal_attention";
        var sq = Own(q, op);
        CheckAttention(sq, dims, op);
        return AttentionForward(sq, Own(k, op), Own(v, op), dims, family, weights: false);
    }

    /// <inheritdoc/>
    public Storage CausalAttentionWeights(Storage q, Storage k, AttentionDims dims, AttentionFamily family)
    {
        const string op = "causal_attention_weights";
        var sq = Own(q, op);
        CheckAttention(sq, dims, op);
        return AttentionForward(sq, Own(k, op), null, dims, family, weights: true);
    }

    /// <inheritdoc/>
    public (Storage Dq, Storage Dk, Storage Dv) CausalAttentionBackward(Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        const string op = "causal_attention backward";
        var sq = Own(q, op);
        CheckAttention(sq, dims, op);
        var sk = Own(k, op);
        var sv = Own(v, op);
        var sg = Own(gradOutput, op);
        var args = AttentionArgs.Of(dims, family, sq.DType);
        var dq = Allocate(sq.DType, args.Bh * args.Tq * args.D);
        var dk = Allocate(sq.DType, args.Bh * args.Tk * args.D);
        var dv = Allocate(sq.DType, args.Bh * args.Tk * args.D);
        if (dq.Length == 0)
        {
            if (dk.Length > 0)
            {
                Api.MemsetZero(dk.Pointer, (long)dk.Length * sq.DType.SizeOf());
                Api.MemsetZero(dv.Pointer, (long)dv.Length * sq.DType.SizeOf());
            }
            return (dq, dk, dv);
        }
        var (qs, kn) = PrepareAttention(args, sq, sk);
        using (qs)
        using (kn)
        using (var stats = Allocate(sq.DType, args.Bh * args.Tq * 8))
        {
            ulong knPtr = kn?.Pointer ?? sk.Pointer;
            string t = Suffix(sq.DType);
            void Rows(KernelArgs a) =>
                a.Add(args).Add(sq.Pointer).Add(qs.Pointer).Add(knPtr).Add(sv.Pointer).Add(sg.Pointer).Add(stats.Pointer).Add(dq.Pointer);
            void Keys(KernelArgs a) =>
                a.Add(args).Add(sk.Pointer).Add(qs.Pointer).Add(knPtr).Add(sv.Pointer).Add(sg.Pointer).Add(stats.Pointer).Add(dk.Pointer).Add(dv.Pointer);
            if (TiledAttention(args))
            {
                LaunchTiles("attn_bwd_rows_tiled_" + t, args.Bh * Tiles(args.Tq, AttentionTiles.Queries(sq.DType)), Rows);
                LaunchTiles("attn_bwd_keys_tiled_" + t, args.Bh * Tiles(args.Tk, AttentionTiles.Keys(sq.DType)), Keys);
            }
            else
            {
                LaunchRows("attention", "attn_bwd_rows_reference_" + t, args.Bh * args.Tq, args.Tk, Rows);
                LaunchRows("attention", "attn_bwd_keys_reference_" + t, args.Bh * args.Tk, args.Tq, Keys);
            }
        }
        return (dq, dk, dv);
    }
}
