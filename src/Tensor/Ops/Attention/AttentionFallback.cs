using Engine.Cpu;

namespace Engine;

/// <summary>
/// The default implementations of <see cref="IBackend"/>'s attention kernels for a backend without a native one:
/// copy the inputs to the host, run the CPU kernel, copy the results back. Correct, but slow.
/// </summary>
internal static class AttentionFallback
{
    private static Storage ToCpu(IBackend backend, Storage s)
    {
        if (s.Backend is CpuBackend) return s;
        var layout = Layout.Contiguous([s.Length]);
        switch (s.DType)
        {
            case DType.Float32: { var a = new float[s.Length]; backend.ToHost<float>(s, layout, a); return new CpuStorage<float>(a); }
            case DType.Float64: { var a = new double[s.Length]; backend.ToHost<double>(s, layout, a); return new CpuStorage<double>(a); }
            default: throw new ArgumentException($"causal_attention: needs float32 or float64, got {s.DType.Name()}");
        }
    }

    private static Storage FromCpu(IBackend backend, Storage host) => host switch
    {
        CpuStorage<float> f => backend.FromHost<float>(f.Data),
        CpuStorage<double> d => backend.FromHost<double>(d.Data),
        _ => throw new ArgumentException($"causal_attention: unexpected host storage {host.GetType().Name}"),
    };

    public static Storage Forward(IBackend b, Storage q, Storage k, Storage v, AttentionDims dims, AttentionFamily family) =>
        FromCpu(b, CpuBackend.Instance.CausalAttentionForward(ToCpu(b, q), ToCpu(b, k), ToCpu(b, v), dims, family));

    public static (Storage, Storage, Storage) Backward(IBackend b, Storage q, Storage k, Storage v, Storage gradOutput, AttentionDims dims, AttentionFamily family)
    {
        var (dq, dk, dv) = CpuBackend.Instance.CausalAttentionBackward(ToCpu(b, q), ToCpu(b, k), ToCpu(b, v), ToCpu(b, gradOutput), dims, family);
        return (FromCpu(b, dq), FromCpu(b, dk), FromCpu(b, dv));
    }

    public static Storage Weights(IBackend b, Storage q, Storage k, AttentionDims dims, AttentionFamily family) =>
        FromCpu(b, CpuBackend.Instance.CausalAttentionWeights(ToCpu(b, q), ToCpu(b, k), dims, family));
}
