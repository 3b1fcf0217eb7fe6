namespace Engine.Cuda;

// Native kernels (fused.cu) for IBackend's fused ops; without them the interface's defaults would copy every input to
// the host and back. All storages are contiguous from element 0, as the interface states.
public sealed partial class CudaBackend
{
    private static ulong PtrOrNull(CudaStorage? s) => s?.Pointer ?? 0UL;

    /// <inheritdoc/>
    public (Storage Y, Storage Mean, Storage Rstd) NormForward(Storage x, Storage? weight, Storage? bias, int rows, int cols, double eps, bool rms)
    {
        var sx = Own(x, "norm");
        RequireFloat(sx, "norm");
        var sw = weight is null ? null : Own(weight, "norm");
        var sb = bias is null ? null : Own(bias, "norm");
        var y = Allocate(sx.DType, rows * cols);
        var mean = Allocate(sx.DType, rows);
        var rstd = Allocate(sx.DType, rows);
        bool f32 = sx.DType == DType.Float32;
        LaunchRows("fused", "norm_fwd_" + Suffix(sx.DType), rows, cols, a =>
        {
            a.Add(rows).Add(cols).Add(sx.Pointer).Add(PtrOrNull(sw)).Add(PtrOrNull(sb));
            if (f32) a.Add((float)eps); else a.Add(eps);
            a.Add(rms ? 1 : 0).Add(y.Pointer).Add(mean.Pointer).Add(rstd.Pointer);
        });
        return (y, mean, rstd);
    }

    /// <inheritdoc/>
    public (Storage Dx, Storage? DWeight, Storage? DBias) NormBackward(Storage x, Storage? weight, bool hasBias, Storage mean, Storage rstd, Storage dy, int rows, int cols, bool rms)
    {
        var sx = Own(x, "norm backward");
        RequireFloat(sx, "norm backward");
        var sw = weight is null ? null : Own(weight, "norm backward");
        var sm = Own(mean, "norm backward");
        var sr = Own(rstd, "norm backward");
        var sg = Own(dy, "norm backward");
        var dx = Allocate(sx.DType, rows * cols);
        LaunchRows("fused", "norm_bwd_rows_" + Suffix(sx.DType), rows, cols, a =>
            a.Add(rows).Add(cols).Add(sx.Pointer).Add(PtrOrNull(sw)).Add(sm.Pointer).Add(sr.Pointer).Add(sg.Pointer).Add(dx.Pointer).Add(rms ? 1 : 0));
        CudaStorage? dw = sw is null ? null : Allocate(sx.DType, cols);
        CudaStorage? db = hasBias ? Allocate(sx.DType, cols) : null;
        if (dw is not null || db is not null)
        {
            if (rows == 0)
            {
                if (dw is not null) Api.MemsetZero(dw.Pointer, (long)cols * sx.DType.SizeOf());
                if (db is not null) Api.MemsetZero(db.Pointer, (long)cols * sx.DType.SizeOf());
            }
            else
                Launch("fused", "norm_bwd_cols_" + Suffix(sx.DType), cols, a =>
                    a.Add(rows).Add(cols).Add(sx.Pointer).Add(sm.Pointer).Add(sr.Pointer).Add(sg.Pointer).Add(PtrOrNull(dw)).Add(PtrOrNull(db)));
        }
        return (dx, dw, db);
    }

    /// <inheritdoc/>
    public unsafe (Storage Loss, Storage LogSumExp, int Count) CrossEntropyForward(Storage logits, Storage targets, int rows, int cols, int ignoreIndex)
    {
        var sx = Own(logits, "cross_entropy");
        RequireFloat(sx, "cross_entropy");
        var st = Own(targets, "cross_entropy");
        // The targets are checked on the host (a few bytes per row) so a bad one fails exactly as on the CPU: from
        // the host copy of targets uploaded from the host, else read back (which waits for the device).
        int[] t;
        if (st.Mirror is { } known && known.Values.Length == rows) t = known.Values;
        else
        {
            t = new int[rows];
            fixed (int* p = t) Api.CopyDeviceToHost(p, st.Pointer, (long)rows * sizeof(int));
        }
        int count = CrossEntropyTargets.CountCounted(t, cols, ignoreIndex);
        var lse = Allocate(sx.DType, rows);
        var loss = Allocate(sx.DType, 1);
        using var rowLoss = Allocate(DType.Float64, rows);
        LaunchRows("fused", "xent_fwd_" + Suffix(sx.DType), rows, cols, a =>
            a.Add(rows).Add(cols).Add(sx.Pointer).Add(st.Pointer).Add(ignoreIndex).Add(lse.Pointer).Add(rowLoss.Pointer));
        var mean = Api.GetKernel("fused", "xent_mean_" + Suffix(sx.DType));
        using (var a = new Runtime.KernelArgs())
        {
            a.Add(rows).Add(rowLoss.Pointer).Add(count).Add(loss.Pointer);
            Api.Launch(mean, 1, blockSize, a.Pointers);
        }
        return (loss, lse, count);
    }

    /// <inheritdoc/>
    public Storage CrossEntropyBackward(Storage logits, Storage targets, Storage logSumExp, int rows, int cols, int ignoreIndex, double scale)
    {
        var sx = Own(logits, "cross_entropy backward");
        RequireFloat(sx, "cross_entropy backward");
        var st = Own(targets, "cross_entropy backward");
        var sl = Own(logSumExp, "cross_entropy backward");
        var dx = Allocate(sx.DType, rows * cols);
        bool f32 = sx.DType == DType.Float32;
        Launch("fused", "xent_bwd_" + Suffix(sx.DType), (long)rows * cols, a =>
        {
            a.Add(rows).Add(cols).Add(sx.Pointer).Add(st.Pointer).Add(ignoreIndex).Add(sl.Pointer);
            if (f32) a.Add((float)scale); else a.Add(scale);
            a.Add(dx.Pointer);
        });
        return dx;
    }

    /// <inheritdoc/>
    public Storage Rope(Storage x, Storage cos, Storage sin, int groups, int time, int dim, bool inverse)
    {
        var sx = Own(x, "rope");
        RequireFloat(sx, "rope");
        var sc = Own(cos, "rope");
        var ss = Own(sin, "rope");
        var y = Allocate(sx.DType, groups * time * dim);
        Launch("fused", "rope_" + Suffix(sx.DType), (long)groups * time * (dim / 2), a =>
            a.Add(groups).Add(time).Add(dim).Add(sx.Pointer).Add(sc.Pointer).Add(ss.Pointer).Add(inverse ? 1 : 0).Add(y.Pointer));
        return y;
    }
}
