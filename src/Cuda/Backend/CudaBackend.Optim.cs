namespace Engine.Cuda;

// Native optimiser steps (fused.cu), in place on each parameter and its state.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public void AdamWStep(Storage param, Storage grad, Storage m, Storage v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        var sp = Own(param, "adamw");
        if (!sp.DType.IsFloat()) throw new NotSupportedException($"adamw: parameters must be floating-point, got {sp.DType.Name()}");
        var sg = Own(grad, "adamw");
        var sm = Own(m, "adamw");
        var sv = Own(v, "adamw");
        int n = sp.Length;
        double stepSize = lr / (1 - Math.Pow(beta1, step));
        double invSqrtBc2 = 1 / Math.Sqrt(1 - Math.Pow(beta2, step));
        double decay = 1 - lr * weightDecay;
        if (sp.DType == DType.Float32)
            Launch("fused", "adamw_f32", n, a => a.Add(n).Add(sp.Pointer).Add(sg.Pointer).Add(sm.Pointer).Add(sv.Pointer)
                .Add((float)beta1).Add((float)beta2).Add((float)stepSize).Add((float)invSqrtBc2).Add((float)decay).Add((float)eps));
        else
            Launch("fused", "adamw_f64", n, a => a.Add(n).Add(sp.Pointer).Add(sg.Pointer).Add(sm.Pointer).Add(sv.Pointer)
                .Add(beta1).Add(beta2).Add(stepSize).Add(invSqrtBc2).Add(decay).Add(eps));
    }

    /// <inheritdoc/>
    public void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, double lr, double momentum, double weightDecay, bool nesterov, bool firstStep)
    {
        var sp = Own(param, "sgd");
        if (!sp.DType.IsFloat()) throw new NotSupportedException($"sgd: parameters must be floating-point, got {sp.DType.Name()}");
        var sg = Own(grad, "sgd");
        var sb = momentumBuffer is null ? null : Own(momentumBuffer, "sgd");
        int n = sp.Length;
        if (sp.DType == DType.Float32)
            Launch("fused", "sgd_f32", n, a => a.Add(n).Add(sp.Pointer).Add(sg.Pointer).Add(PtrOrNull(sb))
                .Add((float)lr).Add((float)momentum).Add((float)weightDecay).Add(nesterov ? 1 : 0).Add(firstStep ? 1 : 0));
        else
            Launch("fused", "sgd_f64", n, a => a.Add(n).Add(sp.Pointer).Add(sg.Pointer).Add(PtrOrNull(sb))
                .Add(lr).Add(momentum).Add(weightDecay).Add(nesterov ? 1 : 0).Add(firstStep ? 1 : 0));
    }
}
