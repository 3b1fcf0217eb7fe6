namespace Engine;

public sealed partial class Tensor
{
    private static IBackend BackendOf(Device? device) => BackendRegistry.Get(device ?? Device.Cpu);

    private static int[] CheckShape(ReadOnlySpan<int> shape, string op)
    {
        Shapes.Count(shape, op);
        return shape.ToArray();
    }

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape.</summary>
    public static Tensor FromArray<T>(ReadOnlySpan<T> data, ReadOnlySpan<int> shape, Device? device = null) where T : unmanaged
    {
        int n = Shapes.Count(shape, "from_array");
        if (n != data.Length)
            throw new ArgumentException($"from_array: {data.Length} values do not fill shape {Shapes.Format(shape)} ({n} elements)");
        return new Tensor(BackendOf(device).FromHost(data), shape);
    }

    /// <summary>A 1-D tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor FromArray<T>(T[] data, Device? device = null) where T : unmanaged => FromArray<T>((ReadOnlySpan<T>)data, [data.Length], device);

    /// <summary>A 2-D tensor from a rectangular array.</summary>
    public static Tensor FromArray<T>(T[,] data, Device? device = null) where T : unmanaged
    {
        int r = data.GetLength(0), c = data.GetLength(1);
        var flat = new T[r * c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) flat[i * c + j] = data[i, j];
        return FromArray<T>(flat, [r, c], device);
    }

    /// <summary>A zero-dimensional tensor holding one value.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) => Full([], value, dtype, device);

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(int[] shape, DType dtype = DType.Float32, Device? device = null) =>
        new(BackendOf(device).Zeros(dtype, Shapes.Count(shape, "zeros")), CheckShape(shape, "zeros"));

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(int[] shape, DType dtype = DType.Float32, Device? device = null) => Full(shape, 1, dtype, device);

    /// <summary>A tensor filled with one value.</summary>
    public static Tensor Full(int[] shape, double value, DType dtype = DType.Float32, Device? device = null) =>
        new(BackendOf(device).Full(dtype, Shapes.Count(shape, "full"), value), CheckShape(shape, "full"));

    /// <summary>Zeros with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor ZerosLike(Tensor like) => Zeros(like.Shape, like.DType, like.Device);

    /// <summary>Ones with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor OnesLike(Tensor like) => Ones(like.Shape, like.DType, like.Device);

    /// <summary>start, start+step, … up to but excluding end.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32, Device? device = null)
    {
        if (step == 0 || double.IsNaN(step)) throw new ArgumentException($"arange: step must be non-zero, got {step}");
        int n = Math.Max(0, (int)Math.Ceiling((end - start) / step));
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = start + i * step;
        return FromDoubles(values, [n], dtype, device);
    }

    /// <summary>0, 1, …, end−1.</summary>
    public static Tensor Arange(int end, DType dtype = DType.Float32, Device? device = null) => Arange(0, end, 1, dtype, device);

    /// <summary>Samples from N(mean, std²), deterministic for a seed.</summary>
    public static Tensor RandN(int[] shape, Rng rng, DType dtype = DType.Float32, double mean = 0, double std = 1, Device? device = null)
    {
        var v = new double[Shapes.Count(shape, "randn")];
        for (int i = 0; i < v.Length; i++) v[i] = mean + std * rng.NextNormal();
        return FromDoubles(v, shape, dtype, device);
    }

    /// <summary>Samples from N(0, 1) with a seed.</summary>
    public static Tensor RandN(int[] shape, ulong seed, DType dtype = DType.Float32, Device? device = null) => RandN(shape, new Rng(seed), dtype, 0, 1, device);

    /// <summary>Samples from U[low, high), deterministic for a seed.</summary>
    public static Tensor Rand(int[] shape, Rng rng, DType dtype = DType.Float32, double low = 0, double high = 1, Device? device = null)
    {
        var v = new double[Shapes.Count(shape, "rand")];
        for (int i = 0; i < v.Length; i++) v[i] = low + (high - low) * rng.NextDouble();
        return FromDoubles(v, shape, dtype, device);
    }

    /// <summary>Samples from U[0, 1) with a seed.</summary>
    public static Tensor Rand(int[] shape, ulong seed, DType dtype = DType.Float32, Device? device = null) => Rand(shape, new Rng(seed), dtype, 0, 1, device);

    /// <summary>A tensor of the given dtype from double values.</summary>
    public static Tensor FromDoubles(double[] values, int[] shape, DType dtype = DType.Float32, Device? device = null) => dtype switch
    {
        DType.Float64 => FromArray<double>(values, shape, device),
        DType.Float32 => FromArray<float>(Array.ConvertAll(values, v => (float)v), shape, device),
        DType.BFloat16 => FromArray<BFloat16>(Array.ConvertAll(values, v => BFloat16.FromSingle((float)v)), shape, device),
        _ => FromArray<int>(Array.ConvertAll(values, v => checked((int)v)), shape, device),
    };

    /// <summary>A copy with its own contiguous storage (the copy is recorded for autograd like an identity).</summary>
    public Tensor Clone() => CloneNode.Apply(this);
}
