using Engine.Cpu;

namespace Engine;

/// <summary>
/// The default implementations of <see cref="IBackend"/>'s attention kernels for a backend without a native one:
/// copy the inputs to the host, run the CPU kernel, copy the results back. Correct, but slow.
/// </summary>
internal static class AttentionFallback
{
    // Host copies in and out, shared with the other fused kernels' fallbacks.
    private static Storage ToCpu(IBackend backend, Storage s) => FusedFallback.ToCpu(backend, s);

    private static Storage FromCpu(IBackend backend, Storage host) => FusedFallback.FromCpu(backend, host);

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
