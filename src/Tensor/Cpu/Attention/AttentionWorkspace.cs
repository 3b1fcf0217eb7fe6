using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static Engine.Cpu.SimdMath;

namespace Engine.Cpu;

// The per-thread scratch of the attention kernel and the steps that run on it (scores, the row stages per block,
// the gradients' last step).
internal static partial class AttentionKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Scratch for one thread, rented once per parallel chunk and reused for every head in it.</summary>
    private sealed unsafe class Workspace : IDisposable
    {
        private readonly AttentionDims size;   // what the buffers were rented for
        private AttentionDims d;               // the call's dims (see Retarget)
        private readonly List<T[]> rented = [];
        /// <summary>Q'_i = λ_i·q̃_i [Tq, D] (q̃ = q/‖q‖ when normalising).</summary>
        public readonly T[] Qs;
        /// <summary>k̃_j [Tk, D] (backward only: the forward writes the keys straight into KT) and its transpose [D, Tk].</summary>
        public readonly T[] Kn, KT;
        /// <summary>vᵀ [D, Tk] (backward only).</summary>
        public readonly T[] VT;
        /// <summary>
        /// Row blocks [R, Tk]: scores then the first stage's terms u (or a = u/Σu, see firstScale); f′(s)·e^−μ (Softplus and
        /// sigmoid backward, see sigScale); y^(p−1) of the re-weighting; w; gradients.
        /// The forward needs only A (its weights overwrite the scores in place). A keeps R rows even for fewer queries:
        /// the score products write four rows unchecked.
        /// </summary>
        public readonly T[] A, Sig, X, W, G;
        /// <summary>Per block row: κ of the re-weighting's backward, or 0 for a degenerate row.</summary>
        private readonly T[] kappa;
        /// <summary>Per block row: see <see cref="RowScale"/>.</summary>
        private readonly T[] rowScale;
        /// <summary>Per block row: the factor taking A's row to the first stage's weights a (1 when A holds a), and the one taking Sig's row to f′(s)/Σ f(s).</summary>
        private readonly T[] firstScale, sigScale;
        /// <summary>The re-weighting's cut-off (<see cref="Cutoff"/>) for the prepared family's power.</summary>
        private T cutoff;
        /// <summary>λ_i per query row (<see cref="AttentionFamily.RowScale"/>), for the family and dims it was computed for: the same for every head.</summary>
        private readonly T[] queryScale;
        private AttentionFamily? scaledFamily;
        private AttentionDims scaledDims;
        /// <summary>ALiBi's slope m_h of the prepared head (0 without ALiBi).</summary>
        private T slope;
        /// <summary>
        /// Whether the keys stay between calls (a <see cref="Session"/>'s workspace serves one head whose keys only
        /// grow): KT's rows are then <c>size.Keys</c> apart, and a call transposes only the keys after <see cref="keptKeys"/>.
        /// </summary>
        private readonly bool keepsKeys;
        private int keptKeys;

        public Workspace(AttentionDims dims, bool backward, int blockRows = R, bool keepKeys = false)
        {
            d = size = dims;
            keepsKeys = keepKeys;
            int D = d.HeadDim, tk = d.Keys;
            Qs = Rent(d.Queries * D); KT = Rent(D * tk);
            A = Rent(blockRows * tk);
            (Kn, VT, X, W, Sig, G) = backward
                ? (Rent(tk * D), Rent(D * tk), Rent(blockRows * tk), Rent(blockRows * tk), Rent(blockRows * tk), Rent(blockRows * tk))
                : ([], [], [], [], [], []);
            kappa = new T[blockRows];
            rowScale = new T[blockRows];
            firstScale = new T[blockRows];
            sigScale = new T[blockRows];
            queryScale = Rent(d.Queries);
        }

        /// <summary>
        /// Makes the workspace serve a call of <paramref name="dims"/> with no more query rows and keys than it was made
        /// for (the buffers are laid out by the call's key count, within their length).
        /// </summary>
        public void Retarget(AttentionDims dims)
        {
            if (dims.HeadDim != size.HeadDim || dims.Queries > size.Queries || dims.Keys > size.Keys)
                throw new ArgumentException($"causal_attention: a workspace for {size} cannot serve {dims}");
            d = dims;
        }

        private T[] Rent(int n)
        {
            // A session's workspace lives as long as its decoder: it owns its arrays rather than holding the shared
            // pool's (which is for short loans, and which every other kernel would then find short of them).
            if (keepsKeys) return new T[Math.Max(n, 1)];
            var a = ArrayPool<T>.Shared.Rent(Math.Max(n, 1));
            rented.Add(a);
            return a;
        }

        public void Dispose()
        {
            foreach (var a in rented) ArrayPool<T>.Shared.Return(a);
            rented.Clear();
        }

        /// <summary>Fills Qs, Kn, KT (and VT) for head <paramref name="bh"/>, reading q, k and v where they lie.</summary>
        public void Prepare(T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[]? v, AttentionOperand vo, int bh, AttentionFamily f)
        {
            int D = d.HeadDim, tk = d.Keys;
            int qBase = qo.Head(bh, d.Heads), kBase = ko.Head(bh, d.Heads);
            if (!ReferenceEquals(f, scaledFamily) || d != scaledDims)
            {
                for (int i = 0; i < d.Queries; i++) queryScale[i] = T.CreateChecked(f.RowScale(Count(f, i)));
                (scaledFamily, scaledDims) = (f, d);
            }
            for (int i = 0; i < d.Queries; i++)
            {
                var qi = q.AsSpan(qBase + i * qo.RowStride, D);
                T scale = queryScale[i];
                if (f.NormalizeQK) scale *= InverseNorm(qi);
                Scale(scale, qi, Qs.AsSpan(i * D, D));
            }
            int first = keepsKeys ? Math.Min(keptKeys, tk) : 0;
            // k̃_j into KT's column and, for the backward, Kn's row
            TransposeRows(k, kBase, ko.RowStride, first, tk, D, KT, KeyStride, f.NormalizeQK, Kn);
            if (keepsKeys) keptKeys = tk;
            if (v is not null) TransposeRows(v, vo.Head(bh, d.Heads), vo.RowStride, 0, tk, D, VT, tk, normalize: false, []);
            slope = T.CreateChecked(f.AlibiSlope(bh % d.Heads, d.Heads));
            cutoff = f.Power is double p ? Cutoff(p) : T.Zero;
        }

        /// <summary>n_i, the number of keys query row <paramref name="i"/> sees.</summary>
        private int Count(AttentionFamily f, int i) => d.Visible(i) - f.FirstKey(d.Visible(i));

        /// <summary>
        /// Rows [<paramref name="r0"/>, <paramref name="rows"/>) of the [rows, cols] matrix at <paramref name="offset"/>
        /// (rows <paramref name="ld"/> apart), each divided by its norm when <paramref name="normalize"/>, into the
        /// columns of dst [cols, ·] (rows <paramref name="ldd"/> apart) and, when <paramref name="copies"/> is not
        /// empty, into its rows [r, cols]. Four rows at a time, so that each row of dst takes four adjacent stores.
        /// </summary>
        private static void TransposeRows(T[] src, int offset, int ld, int r0, int rows, int cols, T[] dst, int ldd, bool normalize, T[] copies)
        {
            if (rows > r0 && ((long)(cols - 1) * ldd + rows > dst.Length || ldd < rows))
                throw new InvalidOperationException($"causal_attention: a transposed buffer of {dst.Length} cannot hold {cols} rows of {rows} {ldd} apart");
            ref T Dst = ref MemoryMarshal.GetArrayDataReference(dst);
            int r = r0;
            for (; r + 4 <= rows; r += 4)
            {
                ReadOnlySpan<T> x0 = src.AsSpan(offset + r * ld, cols), x1 = src.AsSpan(offset + (r + 1) * ld, cols),
                                x2 = src.AsSpan(offset + (r + 2) * ld, cols), x3 = src.AsSpan(offset + (r + 3) * ld, cols);
                T s0 = normalize ? InverseNorm(x0) : T.One, s1 = normalize ? InverseNorm(x1) : T.One,
                  s2 = normalize ? InverseNorm(x2) : T.One, s3 = normalize ? InverseNorm(x3) : T.One;
                if (copies.Length != 0)
                {
                    Scale(s0, x0, copies.AsSpan(r * cols, cols)); Scale(s1, x1, copies.AsSpan((r + 1) * cols, cols));
                    Scale(s2, x2, copies.AsSpan((r + 2) * cols, cols)); Scale(s3, x3, copies.AsSpan((r + 3) * cols, cols));
                }
                int c = 0;
                if (typeof(T) == typeof(float) && Avx.IsSupported && cols >= 8)
                    fixed (T* p0 = x0, p1 = x1, p2 = x2, p3 = x3, pd = dst)
                    {
                        Vector256<float> v0 = Vector256.Create(float.CreateTruncating(s0)), v1 = Vector256.Create(float.CreateTruncating(s1)),
                                         v2 = Vector256.Create(float.CreateTruncating(s2)), v3 = Vector256.Create(float.CreateTruncating(s3));
                        for (; c + 8 <= cols; c += 8)
                            GemmPacking.StoreTransposed(Avx.LoadVector256((float*)p0 + c) * v0, Avx.LoadVector256((float*)p1 + c) * v1,
                                Avx.LoadVector256((float*)p2 + c) * v2, Avx.LoadVector256((float*)p3 + c) * v3, (float*)pd + (nint)c * ldd + r, ldd);
                    }
                for (; c < cols; c++)
                {
                    ref T to = ref Unsafe.Add(ref Dst, (nint)c * ldd + r);   // within dst: checked above
                    to = x0[c] * s0;
                    Unsafe.Add(ref to, 1) = x1[c] * s1;
                    Unsafe.Add(ref to, 2) = x2[c] * s2;
                    Unsafe.Add(ref to, 3) = x3[c] * s3;
                }
            }
            for (; r < rows; r++)
            {
                ReadOnlySpan<T> x = src.AsSpan(offset + r * ld, cols);
                T sr = normalize ? InverseNorm(x) : T.One;
                if (copies.Length != 0) Scale(sr, x, copies.AsSpan(r * cols, cols));
                for (int c = 0; c < cols; c++) dst[c * ldd + r] = x[c] * sr;
            }
        }

        /// <summary>Distance between KT's rows.</summary>
        private int KeyStride => keepsKeys ? size.Keys : d.Keys;

        /// <summary>The kept keys are stale (the session's sequence restarted): the next call transposes them all.</summary>
        public void ForgetKeys() => keptKeys = 0;

        /// <summary>
        /// Scores and weights of query rows i0..i0+rb−1 over keys 0..nMax−1. Returns the buffer holding the final
        /// weights w (zero outside each row's visible keys): A itself without re-weighting (and in the forward, where w
        /// overwrites a), else W. With <paramref name="keepStages"/> the backward's intermediates stay in A, Sig, X.
        /// Without <paramref name="normalize"/> (the forward) a row's weights are left as w/<see cref="RowScale"/>[r]:
        /// the caller scales the row's output by that factor instead (D products instead of n per row).
        /// </summary>
        public T[] BlockWeights(int i0, int rb, int nMax, AttentionFamily f, bool keepStages, int row0, bool normalize = true)
        {
            int D = d.HeadDim, tk = d.Keys;
            int a0 = i0 * D, a1 = a0 + Math.Min(1, rb - 1) * D, a2 = a0 + Math.Min(2, rb - 1) * D, a3 = a0 + Math.Min(3, rb - 1) * D;
            ScoresBlock(Qs, a0, a1, a2, a3, KT, KeyStride, D, nMax, A, tk, row0 * tk);
            var w = f.Power is null || !keepStages ? A : W;
            // The first stage's weights a = u/Σu are written as such only where they are the result; the re-weighting
            // and the backward take u with the factor 1/Σu (firstScale) instead, and σ̃ is always left unscaled.
            bool normalizeFirst = normalize && f.Power is null;
            for (int rr = 0; rr < rb; rr++)
            {
                int end = d.Visible(i0 + rr), lo = f.FirstKey(end), n = end - lo, r = row0 + rr, at = r * tk + lo;
                var row = A.AsSpan(at, n);
                if (f.Alibi) AddDistanceBias(row, lo - (end - 1));
                var sig = keepStages && f.Positive != PositiveFunction.Exp ? Sig.AsSpan(at, n) : default;
                T uMax = StageOne(row, sig, f.Positive, out T uSum), inv = T.One / uSum, aScale = inv;
                if (normalizeFirst)
                {
                    Scale(inv, row, row);    // (a 512-bit division per element would cost as much as the exp)
                    aScale = T.One;
                }
                firstScale[r] = aScale;
                sigScale[r] = inv;
                rowScale[r] = aScale;
                if (f.Power is double p)
                    kappa[r] = StageTwo(row, aScale, uMax * inv, n, f.ReweightOffset(n), keepStages ? X.AsSpan(at, n) : default, w.AsSpan(at, n), p,
                        cutoff, normalize, out rowScale[r]);
                w.AsSpan(r * tk, lo).Clear();
                w.AsSpan(r * tk + end, nMax - end).Clear();
            }
            return w;
        }

        /// <summary>Per block row: the factor its weights still need after <see cref="BlockWeights"/> (1 when it normalised them).</summary>
        public ReadOnlySpan<T> RowScale => rowScale;

        /// <summary>s_j += m·(j − t_i) for the row's keys, where <paramref name="firstDistance"/> = first key − t_i ≤ 0: ALiBi's bias −m·(t_i − j).</summary>
        private void AddDistanceBias(Span<T> row, int firstDistance)
        {
            for (int j = 0; j < row.Length; j++) row[j] += slope * T.CreateChecked(firstDistance + j);
        }

        /// <summary>
        /// Row r of G holds dw_j = dO_i·v_j on entry and ds_j = ∂L/∂s_ij on exit:
        /// re-weighting: da_j = n·p·(w_j/x_j)·(dw_j − Σ_k w_k dw_k) where x_j &gt; 0, else 0, computed as
        /// κ·y_j^(p−1)·(dw_j − ⟨w, dw⟩) with y = x/max x and κ = n·p/(max x · Σ_k y_k^p) (see <see cref="StageTwo"/>);
        /// on a degenerate row da = dw. First stage: ds_j = (f′(s_j)/U)·(da_j − ⟨a, da⟩), where f′/U = a_j for exp.
        /// </summary>
        public void RowBackward(int r, int end, AttentionFamily f)
        {
            int tk = d.Keys, lo = f.FirstKey(end), n = end - lo, at = r * tk + lo;
            G.AsSpan(r * tk, lo).Clear();                      // keys before the window have no gradient
            var g = G.AsSpan(at, n);
            ReadOnlySpan<T> a = A.AsSpan(at, n);
            // a = firstScale·A and f′/U = sigScale·Sig (f′/U = a for exp). A degenerate row's w is a itself, written
            // as the plain first stage writes it, so that row's gradients are bit for bit those of the first stage alone.
            T aScale = firstScale[r], dot2;
            if (f.Power is not null && kappa[r] > T.Zero)
                dot2 = aScale * CenterAndScale(g, TensorPrimitives.Dot<T>(W.AsSpan(at, n), g), X.AsSpan(at, n), kappa[r], a);
            else
            {
                if (f.Power is not null)
                {
                    a = W.AsSpan(at, n);
                    aScale = T.One;
                }
                dot2 = aScale * TensorPrimitives.Dot(a, g);
            }
            if (f.Positive == PositiveFunction.Exp) CenterAndScale(g, dot2, a, aScale);
            else CenterAndScale(g, dot2, Sig.AsSpan(at, n), sigScale[r]);
        }

        /// <summary>dq_i = λ_i·dQ'_i and dk̃_j, taken back through the QK normalisation when there is one.</summary>
        public void FinishGradients(T[] q, AttentionOperand qo, T[] k, AttentionOperand ko, T[] dq, T[] dk, int bh, AttentionFamily f)
        {
            int D = d.HeadDim, tk = d.Keys;
            int qBase = bh * d.Queries * D, kBase = bh * tk * D, qIn = qo.Head(bh, d.Heads), kIn = ko.Head(bh, d.Heads);
            for (int i = 0; i < d.Queries; i++)
            {
                var g = dq.AsSpan(qBase + i * D, D);
                if (f.NormalizeQK) NormalizeBackward(q.AsSpan(qIn + i * qo.RowStride, D), g, queryScale[i]);
                else Scale(queryScale[i], g, g);
            }
            if (f.NormalizeQK)
                for (int j = 0; j < tk; j++) NormalizeBackward(k.AsSpan(kIn + j * ko.RowStride, D), dk.AsSpan(kBase + j * D, D), T.One);
        }
    }
}
