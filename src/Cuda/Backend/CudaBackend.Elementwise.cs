using Engine.Cuda.Runtime;

namespace Engine.Cuda;

public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public Storage Unary(UnaryOp op, Storage x, Layout lx, double scalar = 0)
    {
        var s = Own(x, op.ToString());
        RequireFloat(s, op.ToString());
        var y = Allocate(s.DType, lx.Count);
        var k = KernelLayout.From(lx, op.ToString());
        int n = lx.Count;
        if (s.DType == DType.Float32)
            Launch("elementwise", "unary_f32", n, a => a.Add(n).Add(s.Pointer).Add(k).Add(y.Pointer).Add((int)op).Add((float)scalar));
        else
            Launch("elementwise", "unary_f64", n, a => a.Add(n).Add(s.Pointer).Add(k).Add(y.Pointer).Add((int)op).Add(scalar));
        return y;
    }

    /// <inheritdoc/>
    public Storage Binary(BinaryOp op, Storage a, Layout la, Storage b, Layout lb)
    {
        var sa = Own(a, op.ToString());
        var sb = Own(b, op.ToString());
        RequireFloat(sa, op.ToString());
        if (sa.DType != sb.DType) throw new ArgumentException($"{op}: dtypes differ ({sa.DType.Name()} and {sb.DType.Name()})");
        var y = Allocate(sa.DType, la.Count);
        var k = KernelLayout.FromMany(op.ToString(), la, lb);
        int n = la.Count;
        Launch("elementwise", "binary_" + Suffix(sa.DType), n,
            args => args.Add(n).Add(sa.Pointer).Add(k[0]).Add(sb.Pointer).Add(k[1]).Add(y.Pointer).Add((int)op));
        return y;
    }

    /// <inheritdoc/>
    public Storage Where(Storage cond, Layout lc, Storage a, Layout la, Storage b, Layout lb)
    {
        var sc = Own(cond, "where");
        var sa = Own(a, "where");
        var sb = Own(b, "where");
        RequireFloat(sa, "where");
        if (sa.DType != sb.DType) throw new ArgumentException($"where: value dtypes differ ({sa.DType.Name()} and {sb.DType.Name()})");
        var y = Allocate(sa.DType, la.Count);
        var k = KernelLayout.FromMany("where", lc, la, lb);
        int n = la.Count;
        Launch("elementwise", $"where_{Suffix(sa.DType)}_{Suffix(sc.DType)}", n,
            args => args.Add(n).Add(sc.Pointer).Add(k[0]).Add(sa.Pointer).Add(k[1]).Add(sb.Pointer).Add(k[2]).Add(y.Pointer));
        return y;
    }
}
