using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

// The per-thread scratch of the attention kernel and the steps that run on it (scores, the row stages per block,
// the gradients' last step).
internal static partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
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
}
