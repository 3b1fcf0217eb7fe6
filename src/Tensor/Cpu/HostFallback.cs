namespace Engine.Cpu;

/// <summary>
/// The default implementations of <see cref="IBackend"/>'s fused kernels (attention, norms, cross-entropy, RoPE,
/// optimiser steps) for a backend without a native one: copy the inputs to the host, run the CPU kernel, copy the
/// results back to the backend's device. Correct, but slow.
/// </summary>
internal static class HostFallback
{
    /// <summary>A host copy of a whole storage (the storage itself when it is already on the CPU).</summary>
    internal static Storage ToCpu(IBackend backend, Storage s)
    {
        if (s.Backend is CpuBackend) return s;
        var layout = Layout.Contiguous([s.Length]);
        switch (s.DType)
        {
            case DType.Float32: { var a = new float[s.Length]; backend.ToHost<float>(s, layout, a); return new CpuStorage<float>(a); }
            case DType.Float64: { var a = new double[s.Length]; backend.ToHost<double>(s, layout, a); return new CpuStorage<double>(a); }
            default: { var a = new int[s.Length]; backend.ToHost<int>(s, layout, a); return new CpuStorage<int>(a); }
        }
    }

    private static Storage? ToCpuOpt(IBackend backend, Storage? s) => s is null ? null : ToCpu(backend, s);

    /// <summary>A storage of <paramref name="backend"/> holding a host storage's elements.</summary>
    internal static Storage FromCpu(IBackend backend, Storage host) => host switch
    {
        CpuStorage<float> f => backend.FromHost<float>(f.Data),
        CpuStorage<double> d => backend.FromHost<double>(d.Data),
        CpuStorage<int> i => backend.FromHost<int>(i.Data),
        _ => throw new ArgumentException($"host fallback: unexpected host storage {host.GetType().Name}"),
    };

    private static Storage? FromCpuOpt(IBackend backend, Storage? host) => host is null ? null : FromCpu(backend, host);

    /// <summary>Writes a host storage's elements back into a device storage of the same length (in-place kernels).</summary>
    private static void CopyBack(IBackend backend, Storage host, Storage dst)
    {
        if (ReferenceEquals(host, dst)) return;
        var staged = FromCpu(backend, host);
        var layout = Layout.Contiguous([dst.Length]);
        backend.CopyInto(staged, layout, dst, layout);
    }

    public static Storage CausalAttentionForward(IBackend b, Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family) =>
        FromCpu(b, CpuBackend.Instance.CausalAttentionForward(ToCpu(b, q), ToCpu(b, k), ToCpu(b, v), dims, family));

    public static (Storage, Storage, Storage) CausalAttentionBackward(IBackend b, Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        var (dq, dk, dv) = CpuBackend.Instance.CausalAttentionBackward(ToCpu(b, q), ToCpu(b, k), ToCpu(b, v), ToCpu(b, gradOutput), dims, family);
        return (FromCpu(b, dq), FromCpu(b, dk), FromCpu(b, dv));
    }

    public static Storage CausalAttentionWeights(IBackend b, Storage q, Storage k, AttentionDims dims, AttentionFamily family) =>
        FromCpu(b, CpuBackend.Instance.CausalAttentionWeights(ToCpu(b, q), ToCpu(b, k), dims, family));

    public static (Storage, Storage, Storage) NormForward(IBackend b, Storage x, Storage? w, Storage? bias, int rows, int cols, double eps, bool rms)
    {
        var (y, mean, rstd) = CpuBackend.Instance.NormForward(ToCpu(b, x), ToCpuOpt(b, w), ToCpuOpt(b, bias), rows, cols, eps, rms);
        return (FromCpu(b, y), FromCpu(b, mean), FromCpu(b, rstd));
    }

    public static (Storage, Storage?, Storage?) NormBackward(IBackend b, Storage x, Storage? w, bool hasBias, Storage mean, Storage rstd, Storage dy, int rows, int cols, bool rms)
    {
        var (dx, dw, db) = CpuBackend.Instance.NormBackward(ToCpu(b, x), ToCpuOpt(b, w), hasBias, ToCpu(b, mean), ToCpu(b, rstd), ToCpu(b, dy), rows, cols, rms);
        return (FromCpu(b, dx), FromCpuOpt(b, dw), FromCpuOpt(b, db));
    }

    public static (Storage, Storage, int) CrossEntropyForward(IBackend b, Storage logits, Storage targets, int rows, int cols, int ignoreIndex)
    {
        var (loss, lse, count) = CpuBackend.Instance.CrossEntropyForward(ToCpu(b, logits), ToCpu(b, targets), rows, cols, ignoreIndex);
        return (FromCpu(b, loss), FromCpu(b, lse), count);
    }

    public static Storage CrossEntropyBackward(IBackend b, Storage logits, Storage targets, Storage lse, int rows, int cols, int ignoreIndex, double scale) =>
        FromCpu(b, CpuBackend.Instance.CrossEntropyBackward(ToCpu(b, logits), ToCpu(b, targets), ToCpu(b, lse), rows, cols, ignoreIndex, scale));

    public static Storage Rope(IBackend b, Storage x, Storage cos, Storage sin, int groups, int time, int dim, bool inverse) =>
        FromCpu(b, CpuBackend.Instance.Rope(ToCpu(b, x), ToCpu(b, cos), ToCpu(b, sin), groups, time, dim, inverse));

    public static void AdamWStep(IBackend b, Storage param, Storage grad, Storage m, Storage v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        Storage hp = ToCpu(b, param), hm = ToCpu(b, m), hv = ToCpu(b, v);
        CpuBackend.Instance.AdamWStep(hp, ToCpu(b, grad), hm, hv, lr, beta1, beta2, eps, weightDecay, step);
        CopyBack(b, hp, param); CopyBack(b, hm, m); CopyBack(b, hv, v);
    }

    public static void SgdStep(IBackend b, Storage param, Storage grad, Storage? buf, double lr, double momentum, double weightDecay, bool nesterov, bool firstStep)
    {
        Storage hp = ToCpu(b, param);
        Storage? hb = ToCpuOpt(b, buf);
        CpuBackend.Instance.SgdStep(hp, ToCpu(b, grad), hb, lr, momentum, weightDecay, nesterov, firstStep);
        CopyBack(b, hp, param);
        if (buf is not null) CopyBack(b, hb!, buf);
    }
}
