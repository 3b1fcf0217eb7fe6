using System.Numerics;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>Multiply-adds per product below which a batch is spread over threads one product each, rather than
    /// each product over all threads (a 256×32·32×256 attention product is 2 M).</summary>
    private const long SmallProduct = 1 << 22;

    /// <inheritdoc/>
    public Storage MatMul(Storage a, Layout la, Storage b, Layout lb) => a.DType switch
    {
        DType.Float32 => Wrap(MatMul(Data<float>(a), la, Data<float>(b), lb)),
        DType.Float64 => Wrap(MatMul(Data<double>(a), la, Data<double>(b), lb)),
        DType.BFloat16 => Wrap(MatMulBFloat16(a, la, b, lb)),
        _ => throw new NotSupportedException($"matmul: needs floating-point tensors, got {a.DType.Name()}"),
    };

    /// <inheritdoc cref="IBackend.TransposedProductIsFaster"/>
    bool IBackend.TransposedProductIsFaster(int m, int n, DType dtype) => dtype switch
    {
        DType.Float32 => Gemm.TransposedProductIsFaster(m, n, sizeof(float)),
        DType.Float64 => Gemm.TransposedProductIsFaster(m, n, sizeof(double)),
        _ => false,
    };

    /// <inheritdoc/>
    /// <remarks>The bias is added inside the product (<see cref="Gemm.Compute{T}"/>'s bias) when it is a contiguous row.</remarks>
    public Storage MatMulBias(Storage a, Layout la, Storage b, Layout lb, Storage bias, Layout lbias)
    {
        if (lbias.Rank != 1 || lbias.StrideArray[0] != 1 || a.DType != b.DType || a.DType != bias.DType)
            return ((IBackend)this).MatMulBiasComposed(a, la, b, lb, bias, lbias);
        return a.DType switch
        {
            DType.Float32 => Wrap(MatMulBias(Data<float>(a), la, Data<float>(b), lb, Data<float>(bias), lbias.Offset)),
            DType.Float64 => Wrap(MatMulBias(Data<double>(a), la, Data<double>(b), lb, Data<double>(bias), lbias.Offset)),
            _ => ((IBackend)this).MatMulBiasComposed(a, la, b, lb, bias, lbias),
        };
    }

    private static T[] MatMulBias<T>(T[] a, Layout la, T[] b, Layout lb, T[] bias, int biasOffset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int m = la.ShapeArray[0], k = la.ShapeArray[1], n = lb.ShapeArray[1];
        var c = CpuArrayPool.RentUninitialized<T>(m * n);   // every element is written by Gemm.Compute
        if (c.Length > 0)
            Gemm.Compute(m, n, k, a, la.Offset, la.StrideArray[0], la.StrideArray[1], b, lb.Offset, lb.StrideArray[0], lb.StrideArray[1],
                c, 0, n, accumulate: false, bias: bias, biasOff: biasOffset);
        return c;
    }

    /// <summary>
    /// bfloat16 operands, float32 result: the operands are widened to float32 (exactly) and multiplied by the float32
    /// GEMM, so the products are exact and accumulate in float32, as in cuBLAS with bfloat16 inputs and float32 compute.
    /// An emulation (the CPU has no bfloat16 arithmetic to gain from): it costs a widened copy of each operand.
    /// </summary>
    private static float[] MatMulBFloat16(Storage a, Layout la, Storage b, Layout lb)
    {
        if (b.DType != DType.BFloat16) throw new ArgumentException($"matmul: dtypes differ ({a.DType.Name()} and {b.DType.Name()})");
        var wa = Widen(Dense<BFloat16>(a, la));
        var wb = Widen(Dense<BFloat16>(b, lb));
        return MatMul(wa, Layout.Contiguous(la.Shape), wb, Layout.Contiguous(lb.Shape));
    }

    /// <summary>
    /// [..., m, k]·[..., k, n] for layouts already broadcast to the same batch shape. Three strategies, all through
    /// <see cref="Gemm.Compute{T}"/>: one product when B is shared by the whole batch and A's batch and row dims form
    /// one strided run (x·W for activations x [B, T, C]); small products spread over threads one product each
    /// (attention's per-head products); otherwise the batch in order, each product parallel inside.
    /// </summary>
    private static T[] MatMul<T>(T[] a, Layout la, T[] b, Layout lb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int r = la.Rank;
        int m = la.ShapeArray[r - 2], k = la.ShapeArray[r - 1], n = lb.ShapeArray[r - 1];
        int batch = 1;
        for (int d = 0; d < r - 2; d++) batch *= la.ShapeArray[d];
        // Every element is written by Gemm.Compute (k = 0 included), so the result needs no zeroing.
        var c = CpuArrayPool.RentUninitialized<T>(batch * m * n);
        if (c.Length == 0) return c;
        int ars = la.StrideArray[r - 2], acs = la.StrideArray[r - 1], brs = lb.StrideArray[r - 2], bcs = lb.StrideArray[r - 1];
        if (batch == 1)
        {
            Gemm.Compute(m, n, k, a, la.Offset, ars, acs, b, lb.Offset, brs, bcs, c, 0, n, accumulate: false);
            return c;
        }
        if (SharedAcrossBatch(lb) && MergedRowStride(la, out int rowStride))
        {
            Gemm.Compute(batch * m, n, k, a, la.Offset, rowStride, acs, b, lb.Offset, brs, bcs, c, 0, n, accumulate: false);
            return c;
        }
        // Batch offsets of A and B: the leading dims as a layout of their own.
        var oa = new int[batch]; var ob = new int[batch];
        new Layout(la.ShapeArray.AsSpan(0, r - 2), la.StrideArray.AsSpan(0, r - 2), la.Offset).StorageIndices(oa);
        new Layout(lb.ShapeArray.AsSpan(0, r - 2), lb.StrideArray.AsSpan(0, r - 2), lb.Offset).StorageIndices(ob);
        long work = (long)m * n * k;
        int threads = EngineThreads.Count;
        if (threads > 1 && (work < SmallProduct || batch % threads == 0))
        {
            EngineThreads.For(batch, work, (start, end) =>
            {
                for (int i = start; i < end; i++)
                    Gemm.Compute(m, n, k, a, oa[i], ars, acs, b, ob[i], brs, bcs, c, i * m * n, n, accumulate: false, threads: 1);
            });
            return c;
        }
        for (int i = 0; i < batch; i++)
            Gemm.Compute(m, n, k, a, oa[i], ars, acs, b, ob[i], brs, bcs, c, i * m * n, n, accumulate: false);
        return c;
    }

    /// <summary>Whether every batch dim of <paramref name="l"/> has stride 0 (or size 1): one matrix for the whole batch.</summary>
    private static bool SharedAcrossBatch(Layout l)
    {
        for (int d = 0; d < l.Rank - 2; d++)
            if (l.ShapeArray[d] != 1 && l.StrideArray[d] != 0) return false;
        return true;
    }

    /// <summary>
    /// Whether the batch dims and the row dim of <paramref name="l"/> are one strided run of rows (row b·m + i sits at
    /// offset + (b·m + i)·<paramref name="rowStride"/>), so the batch is a single taller matrix.
    /// </summary>
    private static bool MergedRowStride(Layout l, out int rowStride)
    {
        int r = l.Rank;
        rowStride = l.StrideArray[r - 2];
        long size = l.ShapeArray[r - 2];
        for (int d = r - 3; d >= 0; d--)
        {
            int extent = l.ShapeArray[d], stride = l.StrideArray[d];
            if (extent == 1) continue;
            if (size == 1) { rowStride = stride; size = extent; continue; }
            if (stride != size * rowStride) return false;
            size *= extent;
        }
        return true;
    }
}
