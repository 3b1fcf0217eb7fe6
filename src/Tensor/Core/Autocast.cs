namespace Engine;

/// <summary>
/// A mixed-precision scope, consulted by <see cref="Tensor.MatMul"/> and the CUDA backend's GEMMs:
/// <c>using (Autocast.BFloat16()) { loss = model.Loss(...); }</c>. Model code is unchanged.
/// <list type="bullet">
/// <item><see cref="Precision.BFloat16"/>: each float32 matmul casts both operands to bfloat16 (the cast is recorded,
/// so gradients reach the float32 tensors) and multiplies them with float32 accumulation and a float32 result. Its
/// backward multiplies in bfloat16 too (the float32 output gradient cast to bfloat16), with float32 results, inside or
/// outside the scope. Every other op (reductions, norms, softmax, attention, the loss) stays float32.</item>
/// <item><see cref="Precision.TF32"/>: float32 matmuls on CUDA use TF32 tensor cores; the CPU computes float32.</item>
/// <item><see cref="Precision.Float32"/>: no change (a scope that turns an outer one off).</item>
/// </list>
/// Float64 products are never changed. Like <see cref="Autograd.GradMode"/> the setting is an <see cref="AsyncLocal{T}"/>:
/// it follows the flow of control and never leaks into other threads' work. Scopes nest; disposing restores the outer one.
/// </summary>
public static class Autocast
{
    private static readonly AsyncLocal<Precision> Mode = new();

    /// <summary>The precision in force on this flow (<see cref="Precision.Float32"/> outside every scope).</summary>
    public static Precision Current => Mode.Value;

    /// <summary>Opens a scope of <paramref name="precision"/>; dispose it to restore the previous one.</summary>
    public static IDisposable Enter(Precision precision) => new Scope(precision);

    /// <summary>Opens a bfloat16 autocast scope.</summary>
    public static IDisposable BFloat16() => new Scope(Precision.BFloat16);

    /// <summary>Opens a TF32 scope (float32 GEMMs on CUDA may use TF32 tensor cores).</summary>
    public static IDisposable Tf32() => new Scope(Precision.TF32);

    private sealed class Scope : IDisposable
    {
        private readonly Precision previous;
        private bool disposed;

        public Scope(Precision precision)
        {
            previous = Mode.Value;
            Mode.Value = precision;
        }

        public void Dispose()
        {
            if (disposed) return;
            disposed = true;
            Mode.Value = previous;
        }
    }
}
