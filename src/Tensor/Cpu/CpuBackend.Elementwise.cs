using System.Numerics;
using System.Numerics.Tensors;

namespace Engine.Cpu;

public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public Storage Unary(UnaryOp op, Storage x, Layout lx, double scalar = 0) => x.DType switch
    {
        DType.Float32 => Wrap(Unary<float>(op, x, lx, (float)scalar)),
        DType.Float64 => Wrap(Unary<double>(op, x, lx, scalar)),
        _ => throw new NotSupportedException($"{op}: needs a floating-point tensor, got {x.DType.Name()}"),
    };

    /// <summary>Elements per parallel chunk of an elementwise op (64 KiB of float32: a chunk stays in L2).</summary>
    private const int ElementwiseChunk = 16_384;

    /// <summary>
    /// body(start, length) over [0, <paramref name="n"/>) in fixed chunks of <see cref="ElementwiseChunk"/> on
    /// <see cref="EngineThreads"/>: the chunks do not depend on the thread count, so neither do the results.
    /// </summary>
    internal static void ForEachChunk(int n, Action<int, int> body)
    {
        int chunks = (n + ElementwiseChunk - 1) / ElementwiseChunk;
        EngineThreads.For(chunks, ElementwiseChunk, (c0, c1) =>
        {
            int start = c0 * ElementwiseChunk;
            body(start, Math.Min(n, c1 * ElementwiseChunk) - start);
        });
    }

    /// <summary>
    /// A unary op over a view: the output is allocated uninitialised (every element is written) and the work is
    /// split into fixed chunks run on <see cref="EngineThreads"/>; each element depends only on its input, so the
    /// result is the same for any thread count.
    /// </summary>
    private static T[] Unary<T>(UnaryOp op, Storage x, Layout lx, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = lx.Count;
        var y = CpuArrayPool.RentUninitialized<T>(n);
        if (n == 0) return y; // some TensorPrimitives reject empty spans
        T[] src; int offset;
        if (lx.IsContiguous) { src = Data<T>(x); offset = lx.Offset; }
        else { src = CpuArrayPool.RentScratch<T>(n); Gather(Data<T>(x), lx, src); offset = 0; }
        ForEachChunk(n, (start, length) => UnaryInto(op, src.AsSpan(offset + start, length), y.AsSpan(start, length), s));
        if (offset == 0 && !lx.IsContiguous) CpuArrayPool.Return(src);   // the gathered scratch copy
        return y;
    }

    /// <inheritdoc/>
    /// <remarks>One pass over contiguous x and g (the backward of a GELU on a matmul's output); other views take the two-pass default.</remarks>
    public Storage GeluBackward(Storage x, Layout lx, Storage g, Layout lg)
    {
        if (!lx.IsContiguous || !lg.IsContiguous || x.DType != g.DType)
            return ((IBackend)this).GeluBackwardComposed(x, lx, g, lg);
        return x.DType switch
        {
            DType.Float32 => Wrap(GeluBackward(Data<float>(x), lx.Offset, Data<float>(g), lg.Offset, lx.Count)),
            DType.Float64 => Wrap(GeluBackward(Data<double>(x), lx.Offset, Data<double>(g), lg.Offset, lx.Count)),
            _ => throw new NotSupportedException($"gelu: needs a floating-point tensor, got {x.DType.Name()}"),
        };
    }

    private static T[] GeluBackward<T>(T[] x, int xOffset, T[] g, int gOffset, int n) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = CpuArrayPool.RentUninitialized<T>(n);   // every element is written below
        if (n > 0)
            ForEachChunk(n, (start, length) => GeluKernel.Backward<T>(x.AsSpan(xOffset + start, length), g.AsSpan(gOffset + start, length), y.AsSpan(start, length)));
        return y;
    }

    /// <summary>y = op(x) elementwise on one contiguous run (single-threaded).</summary>
    internal static T[] Unary<T>(UnaryOp op, ReadOnlySpan<T> x, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = new T[x.Length];
        if (y.Length > 0) UnaryInto(op, x, y, s); // some TensorPrimitives reject empty spans
        return y;
    }

    private static void UnaryInto<T>(UnaryOp op, ReadOnlySpan<T> x, Span<T> y, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(x, y); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(x, y); break;
            case UnaryOp.Log: TensorPrimitives.Log(x, y); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(x, y); break;
            case UnaryOp.Rsqrt: TensorPrimitives.Sqrt(x, y); TensorPrimitives.Divide(T.One, y, y); break;
            case UnaryOp.Abs: TensorPrimitives.Abs(x, y); break;
            case UnaryOp.Relu: TensorPrimitives.Max(x, T.Zero, y); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            case UnaryOp.Tanh: TensorPrimitives.Tanh(x, y); break;
            case UnaryOp.AddScalar: TensorPrimitives.Add(x, s, y); break;
            case UnaryOp.MulScalar: TensorPrimitives.Multiply(x, s, y); break;
            case UnaryOp.PowScalar: PowRun(x, y, s); break;
            case UnaryOp.RSubScalar: TensorPrimitives.Subtract(s, x, y); break;
            case UnaryOp.RDivScalar: TensorPrimitives.Divide(s, x, y); break;
            case UnaryOp.MaxScalar: TensorPrimitives.Max(x, s, y); break;
            case UnaryOp.MinScalar: TensorPrimitives.Min(x, s, y); break;
            case UnaryOp.Softplus: SoftplusBlocks(x, y); break;
            case UnaryOp.Gelu: GeluKernel.Run(x, y, derivative: false); break;
            case UnaryOp.GeluGrad: GeluKernel.Run(x, y, derivative: true); break;
            case UnaryOp.Step: Map<T, Step<T>>(x, y, s); break;
            case UnaryOp.Sign: Map<T, Sign<T>>(x, y, s); break;
            case UnaryOp.EqScalar: Map<T, EqS<T>>(x, y, s); break;
            case UnaryOp.GtScalar: Map<T, GtS<T>>(x, y, s); break;
            case UnaryOp.LtScalar: Map<T, LtS<T>>(x, y, s); break;
            default: throw new NotSupportedException($"unary op {op}");
        }
    }

    /// <inheritdoc/>
    public Storage Binary(BinaryOp op, Storage a, Layout la, Storage b, Layout lb) => a.DType switch
    {
        DType.Float32 => Wrap(Binary<float>(op, Data<float>(a), la, Data<float>(b), lb)),
        DType.Float64 => Wrap(Binary<double>(op, Data<double>(a), la, Data<double>(b), lb)),
        _ => throw new NotSupportedException($"{op}: needs floating-point tensors, got {a.DType.Name()}"),
    };

    /// <summary>
    /// Runs a binary op row by row (a row is the last dimension). Each row pair is contiguous, a broadcast
    /// scalar, or strided; the first two go to TensorPrimitives, which covers bias adds and row scalings.
    /// </summary>
    internal static T[] Binary<T>(BinaryOp op, T[] a, Layout la, T[] b, Layout lb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = la.Count;
        var y = CpuArrayPool.RentUninitialized<T>(count);   // every element is written below
        if (count == 0) return y;
        if (la.IsContiguous && lb.IsContiguous)
        {
            int oa0 = la.Offset, ob0 = lb.Offset;
            ForEachChunk(count, (start, length) => BinaryRun(op, a.AsSpan(oa0 + start, length), b.AsSpan(ob0 + start, length), y.AsSpan(start, length)));
            return y;
        }
        int inner = la.Rank == 0 ? 1 : la.ShapeArray[^1];
        int sa = la.Rank == 0 ? 1 : la.StrideArray[^1], sb = lb.Rank == 0 ? 1 : lb.StrideArray[^1];
        int rows = count / inner;
        var oa = CpuArrayPool.RentScratch<int>(rows); la.RowOffsets(oa.AsSpan(0, rows));
        var ob = CpuArrayPool.RentScratch<int>(rows); lb.RowOffsets(ob.AsSpan(0, rows));
        EngineThreads.For(rows, inner, (start, end) =>
        {
            T[]? bufA = null, bufB = null;
            for (int r = start; r < end; r++)
            {
                var dst = y.AsSpan(r * inner, inner);
                ReadOnlySpan<T> ra, rb;
                if (sa == 1) ra = a.AsSpan(oa[r], inner);
                else if (sa == 0) ra = default;
                else { bufA ??= new T[inner]; for (int i = 0, o = oa[r]; i < inner; i++, o += sa) bufA[i] = a[o]; ra = bufA; }
                if (sb == 1) rb = b.AsSpan(ob[r], inner);
                else if (sb == 0) rb = default;
                else { bufB ??= new T[inner]; for (int i = 0, o = ob[r]; i < inner; i++, o += sb) bufB[i] = b[o]; rb = bufB; }
                if (sa == 0 && sb == 0) { var v = Scalar(op, a[oa[r]], b[ob[r]]); dst.Fill(v); }
                else if (sa == 0) BinaryScalarLeft(op, a[oa[r]], rb, dst);
                else if (sb == 0) BinaryScalarRight(op, ra, b[ob[r]], dst);
                else BinaryRun(op, ra, rb, dst);
            }
        });
        CpuArrayPool.Return(oa);
        CpuArrayPool.Return(ob);
        return y;
    }

    private static void BinaryRun<T>(BinaryOp op, ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(op, a[i], b[i]); break;
        }
    }

    private static void BinaryScalarRight<T>(BinaryOp op, ReadOnlySpan<T> a, T b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(a, b, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(a, b, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(a, b, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(a, b, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(op, a[i], b); break;
        }
    }

    private static void BinaryScalarLeft<T>(BinaryOp op, T a, ReadOnlySpan<T> b, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case BinaryOp.Add: TensorPrimitives.Add(b, a, y); break;
            case BinaryOp.Sub: TensorPrimitives.Subtract(a, b, y); break;
            case BinaryOp.Mul: TensorPrimitives.Multiply(b, a, y); break;
            case BinaryOp.Div: TensorPrimitives.Divide(a, b, y); break;
            case BinaryOp.Max: TensorPrimitives.Max(b, a, y); break;
            case BinaryOp.Min: TensorPrimitives.Min(b, a, y); break;
            default: for (int i = 0; i < y.Length; i++) y[i] = Scalar(op, a, b[i]); break;
        }
    }

    /// <summary>The scalar definition of every binary op; the vector paths above must agree with it.</summary>
    internal static T Scalar<T>(BinaryOp op, T a, T b) where T : unmanaged, IFloatingPointIeee754<T> => op switch
    {
        BinaryOp.Add => a + b,
        BinaryOp.Sub => a - b,
        BinaryOp.Mul => a * b,
        BinaryOp.Div => a / b,
        BinaryOp.Max => T.Max(a, b),
        BinaryOp.Min => T.Min(a, b),
        BinaryOp.Eq => a == b ? T.One : T.Zero,
        BinaryOp.Ne => a != b ? T.One : T.Zero,
        BinaryOp.Lt => a < b ? T.One : T.Zero,
        BinaryOp.Le => a <= b ? T.One : T.Zero,
        BinaryOp.Gt => a > b ? T.One : T.Zero,
        BinaryOp.Ge => a >= b ? T.One : T.Zero,
        _ => throw new NotSupportedException($"binary op {op}"),
    };

    /// <inheritdoc/>
    public Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb) => a.DType switch
    {
        DType.Float32 => Wrap(Where<float>(cond, lc, a, la, b, lb)),
        DType.Float64 => Wrap(Where<double>(cond, lc, a, la, b, lb)),
        _ => throw new NotSupportedException($"where: needs floating-point values, got {a.DType.Name()}"),
    };

    private static T[] Where<T>(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var va = Dense<T>(a, la); var vb = Dense<T>(b, lb);
        var y = CpuArrayPool.Rent<T>(va.Length);
        switch (cond.DType)
        {
            case DType.Float32: { var c = Dense<float>(cond, lc); for (int i = 0; i < y.Length; i++) y[i] = c[i] != 0 ? va[i] : vb[i]; break; }
            case DType.Float64: { var c = Dense<double>(cond, lc); for (int i = 0; i < y.Length; i++) y[i] = c[i] != 0 ? va[i] : vb[i]; break; }
            default: { var c = Dense<int>(cond, lc); for (int i = 0; i < y.Length; i++) y[i] = c[i] != 0 ? va[i] : vb[i]; break; }
        }
        return y;
    }

    // ---- scalar kernels for the ops TensorPrimitives lacks; one struct each so the JIT specialises the loop ----

    private interface IKernel<T> { static abstract T Invoke(T x, T s); }

    private static void Map<T, TK>(ReadOnlySpan<T> x, Span<T> y, T s) where TK : IKernel<T>
    {
        for (int i = 0; i < x.Length; i++) y[i] = TK.Invoke(x[i], s);
    }

    /// <summary>x^s; the squares and identities that attention powers use most are exact vector passes.</summary>
    private static void PowRun<T>(ReadOnlySpan<T> x, Span<T> y, T s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (s == T.CreateTruncating(2)) TensorPrimitives.Multiply(x, x, y);
        else if (s == T.One) x.CopyTo(y);
        else TensorPrimitives.Pow(x, s, y);
    }

    /// <summary>
    /// softplus(x) = max(x, 0) + log(1 + e^-|x|): never overflows and keeps precision for large |x|.
    /// log(1 + z) is computed as log(u)·z/(u − 1) with u = 1 + z (exact to a few ulps even when z is tiny,
    /// where the runtime's LogP1, log(1 + z), would round to 0 and make softplus(−40) = 0 instead of e^−40);
    /// where u rounds to 1, log(1 + z) = z. Vectorised as TensorPrimitives passes over blocks that stay in L1.
    /// </summary>
    private static void SoftplusBlocks<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int Block = 1024;
        Span<T> z = stackalloc T[Block], u = stackalloc T[Block];
        for (int start = 0; start < x.Length; start += Block)
        {
            int n = Math.Min(Block, x.Length - start);
            var xb = x.Slice(start, n); var yb = y.Slice(start, n); var zb = z[..n]; var ub = u[..n];
            TensorPrimitives.Abs(xb, zb);
            TensorPrimitives.Negate(zb, zb);
            TensorPrimitives.Exp(zb, zb);                     // z = e^-|x|
            TensorPrimitives.Add(zb, T.One, ub);              // u = 1 + z
            TensorPrimitives.Log(ub, yb);
            TensorPrimitives.Multiply(yb, zb, yb);            // log(u)·z
            TensorPrimitives.Subtract(ub, T.One, ub);         // u − 1
            TensorPrimitives.Divide(yb, ub, yb);              // log(u)·z/(u − 1)
            for (int i = 0; i < n; i++)
                if (ub[i] == T.Zero) yb[i] = zb[i];           // u rounded to 1: log(1 + z) = z
            TensorPrimitives.Max(xb, T.Zero, ub);
            TensorPrimitives.Add(yb, ub, yb);                 // max(x, 0) + log(1 + z)
        }
    }

    private readonly struct Step<T> : IKernel<T> where T : IFloatingPointIeee754<T>
    {
        public static T Invoke(T x, T s) => x > T.Zero ? T.One : T.Zero;
    }

    private readonly struct Sign<T> : IKernel<T> where T : IFloatingPointIeee754<T>
    {
        public static T Invoke(T x, T s) => x > T.Zero ? T.One : x < T.Zero ? -T.One : T.Zero;
    }

    private readonly struct EqS<T> : IKernel<T> where T : IFloatingPointIeee754<T>
    {
        public static T Invoke(T x, T s) => x == s ? T.One : T.Zero;
    }

    private readonly struct GtS<T> : IKernel<T> where T : IFloatingPointIeee754<T>
    {
        public static T Invoke(T x, T s) => x > s ? T.One : T.Zero;
    }

    private readonly struct LtS<T> : IKernel<T> where T : IFloatingPointIeee754<T>
    {
        public static T Invoke(T x, T s) => x < s ? T.One : T.Zero;
    }
}
