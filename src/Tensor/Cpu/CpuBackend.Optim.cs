using System.Numerics.Tensors;

namespace Engine.Cpu;

// Optimiser steps, fused into one pass over each parameter, in place.
public sealed partial class CpuBackend
{
    /// <inheritdoc/>
    public void AdamWStep(Storage param, Storage grad, Storage m, Storage v, double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        if (param.DType == DType.Float32) AdamW(Data<float>(param), Data<float>(grad), Data<float>(m), Data<float>(v), lr, beta1, beta2, eps, weightDecay, step);
        else if (param.DType == DType.Float64) AdamW(Data<double>(param), Data<double>(grad), Data<double>(m), Data<double>(v), lr, beta1, beta2, eps, weightDecay, step);
        else throw new NotSupportedException($"adamw: parameters must be floating-point, got {param.DType.Name()}");
    }

    /// <inheritdoc/>
    public void SgdStep(Storage param, Storage grad, Storage? momentumBuffer, double lr, double momentum, double weightDecay, bool nesterov, bool firstStep)
    {
        if (param.DType == DType.Float32) Sgd(Data<float>(param), Data<float>(grad), Opt<float>(momentumBuffer), lr, momentum, weightDecay, nesterov, firstStep);
        else if (param.DType == DType.Float64) Sgd(Data<double>(param), Data<double>(grad), Opt<double>(momentumBuffer), lr, momentum, weightDecay, nesterov, firstStep);
        else throw new NotSupportedException($"sgd: parameters must be floating-point, got {param.DType.Name()}");
    }
}
