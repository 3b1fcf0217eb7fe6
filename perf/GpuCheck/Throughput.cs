using System.Diagnostics;
using Engine.Cuda;

namespace Engine.GpuCheck;

/// <summary>GEMM and train-step throughput; the GPU is synchronised before the clock stops.</summary>
internal static class Throughput
{
    public static void Gemm(CudaBackend gpu, Report report, int n, DType dtype, bool tf32, int reps)
    {
        // bfloat16 operands are rounded from float32 once, outside the clock; the product accumulates and returns float32.
        var source = dtype == DType.BFloat16 ? DType.Float32 : dtype;
        var a = Tensor.RandN([n, n], 1UL, source).To(gpu.Device).To(dtype);
        var b = Tensor.RandN([n, n], 2UL, source).To(gpu.Device).To(dtype);
        bool previous = gpu.AllowTf32;
        gpu.AllowTf32 = tf32;
        try
        {
            a.MatMul(b).Storage.Dispose(); // warm-up: cuBLAS handle and heuristics
            gpu.Synchronize();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < reps; i++) a.MatMul(b).Storage.Dispose();
            gpu.Synchronize();
            double s = sw.Elapsed.TotalSeconds / reps;
            double tflops = 2.0 * n * n * n / s / 1e12;
            string kind = dtype switch
            {
                DType.Float64 => "f64",
                DType.BFloat16 => "bf16 inputs, f32 accumulation",
                _ => tf32 ? "f32 (TF32 tensor cores)" : "f32",
            };
            report.Add("throughput", $"GEMM {n}×{n}×{n} {kind}", null, $"{s * 1e3:0.000} ms, {tflops:0.0} TFLOP/s");
        }
        finally
        {
            gpu.AllowTf32 = previous;
        }
    }

    public static void TrainStep(CudaBackend gpu, Report report, bool includeCpu)
    {
        const int vocab = 4096, dim = 512, hidden = 2048, batch = 4096;
        double g = Training.StepMilliseconds(gpu.Device, vocab, dim, hidden, batch, 10, gpu.Synchronize);
        long flops = 6L * batch * (dim * hidden + hidden * hidden + hidden * vocab);
        report.Add("throughput", $"MLP train step, batch {batch}, {dim}/{hidden}/{vocab}, GPU", null, $"{g:0.00} ms/step, {flops / (g / 1e3) / 1e12:0.00} TFLOP/s (matmuls)");
        if (includeCpu)
        {
            double c = Training.StepMilliseconds(Device.Cpu, vocab, dim, hidden, batch, 1, () => { });
            report.Add("throughput", $"MLP train step, batch {batch}, {dim}/{hidden}/{vocab}, CPU", null, $"{c:0.0} ms/step ({Environment.ProcessorCount} cores), GPU speed-up {c / g:0.0}×");
        }
    }
}
