namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <summary>How cuBLAS reads one operand: transposed or not, its leading dimension and its batch stride.</summary>
    private readonly record struct Operand(ulong Pointer, bool Transposed, int Ld, long BatchStride);

    /// <summary>
    /// Row-major C[m,n] = A[m,k]·B[k,n] through column-major cuBLAS by the transpose identity: a row-major matrix is
    /// its transpose in column-major order, so C^T[n,m] = B^T[n,k]·A^T[k,m] is computed with B as cuBLAS's first
    /// operand and A as its second. Row-major or column-major operands with one uniform batch stride (stride 0 for a
    /// broadcast batch) go to cuBLAS as they are; any other layout is made contiguous first. bfloat16 operands give a
    /// float32 result through cublasGemmStridedBatchedEx (float32 accumulation); float32 operands use TF32 tensor cores
    /// when <see cref="AllowTf32"/> is set or a <see cref="Precision.TF32"/> <see cref="Autocast"/> scope is open.
    /// </summary>
    /// <inheritdoc/>
    public Storage MatMul(Storage a, Layout la, Storage b, Layout lb)
    {
        var sa = Own(a, "matmul");
        var sb = Own(b, "matmul");
        if (!sa.DType.IsFloat()) throw new NotSupportedException($"matmul: needs a floating-point tensor, got {sa.DType.Name()}");
        if (sa.DType != sb.DType) throw new ArgumentException($"matmul: dtypes differ ({sa.DType.Name()} and {sb.DType.Name()})");
        int r = la.Rank;
        if (r < 2 || lb.Rank != r)
            throw new ArgumentException($"matmul: backend expects operands of equal rank ≥ 2 with broadcast batch dims, got {la} and {lb}");
        int m = la.ShapeSpan[r - 2], k = la.ShapeSpan[r - 1], n = lb.ShapeSpan[r - 1];
        int batch = 1;
        for (int d = 0; d < r - 2; d++) batch *= la.ShapeSpan[d];
        var kind = sa.DType switch
        {
            DType.Float64 => Runtime.GemmKind.Float64,
            DType.BFloat16 => Runtime.GemmKind.BFloat16,
            _ => AllowTf32 || Autocast.Current == Precision.TF32 ? Runtime.GemmKind.Tf32 : Runtime.GemmKind.Float32,
        };
        var c = Allocate(sa.DType == DType.BFloat16 ? DType.Float32 : sa.DType, batch * m * n);
        if (c.Length == 0) return c;
        if (k == 0) { Api.MemsetZero(c.Pointer, (long)c.Length * c.DType.SizeOf()); return c; }

        CudaStorage? tmpA = null, tmpB = null;
        try
        {
            if (!TryOperand(sa, la, m, k, out var opA))
            {
                tmpA = (CudaStorage)Contiguous(sa, la);
                TryOperand(tmpA, Layout.Contiguous(la.Shape), m, k, out opA);
            }
            if (!TryOperand(sb, lb, k, n, out var opB))
            {
                tmpB = (CudaStorage)Contiguous(sb, lb);
                TryOperand(tmpB, Layout.Contiguous(lb.Shape), k, n, out opB);
            }
            // Column-major view: C^T (n×m, ldc = n) = op(B) (n×k) · op(A) (k×m).
            Api.GemmStridedBatched(kind, opB.Transposed, opA.Transposed, n, m, k, 1.0,
                opB.Pointer, opB.Ld, opB.BatchStride, opA.Pointer, opA.Ld, opA.BatchStride, 0.0,
                c.Pointer, n, (long)m * n, batch);
        }
        finally
        {
            tmpA?.Dispose();
            tmpB?.Dispose();
        }
        return c;
    }

    /// <summary>
    /// Describes a row-major [batch…, rows, cols] view for cuBLAS. Row-major storage (unit column stride) is, read
    /// column-major, the transpose: op N with ld = row stride. Column-major storage (unit row stride) needs op T with
    /// ld = column stride. The batch dims must merge into one stride.
    /// </summary>
    private static bool TryOperand(CudaStorage s, Layout l, int rows, int cols, out Operand op)
    {
        op = default;
        int r = l.Rank;
        var batchShape = l.ShapeSpan[..(r - 2)].ToArray();
        var batchStrides = new[] { l.StrideSpan[..(r - 2)].ToArray() };
        Runtime.KernelLayout.Coalesce(ref batchShape, batchStrides);
        if (batchShape.Length > 1) return false;
        long batchStride = batchShape.Length == 1 ? batchStrides[0][0] : 0;
        int sr = l.StrideSpan[r - 2], sc = l.StrideSpan[r - 1];
        ulong ptr = s.At(l.Offset);
        if (cols == 1 || sc == 1)
        {
            int ld = rows == 1 ? Math.Max(cols, 1) : sr;
            if (ld >= Math.Max(1, cols)) { op = new Operand(ptr, false, ld, batchStride); return true; }
        }
        if (rows == 1 || sr == 1)
        {
            int ld = cols == 1 ? Math.Max(rows, 1) : sc;
            if (ld >= Math.Max(1, rows)) { op = new Operand(ptr, true, ld, batchStride); return true; }
        }
        return false;
    }
}
