using Engine.Cpu;
using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>
/// Every <see cref="IBackend"/> operation of <see cref="CudaBackend"/>, run on the host emulation of the kernels
/// (the embedded .cu sources compiled with the host C++ compiler), against the CPU backend on the same inputs and
/// views: contiguous, transposed, offset, broadcast.
/// </summary>
public class EmulatedKernelTests
{
    private static CudaBackend Gpu => HostEmulator.Registered;
    private static IBackend Cpu => CpuBackend.Instance;

    private const int BufferLength = 110;

    /// <summary>Views of shape-compatible windows into a 110-element buffer.</summary>
    private static readonly (string name, Layout layout)[] Views3 =
    [
        ("contiguous", Layout.Contiguous([3, 5, 7])),
        ("offset-contiguous", new Layout([3, 5, 7], [35, 7, 1], 4)),
        ("transposed", new Layout([3, 5, 7], [1, 21, 3], 0)),
        ("broadcast-middle", new Layout([3, 5, 7], [7, 0, 1], 2)),
        ("scalar-broadcast", new Layout([3, 5, 7], [0, 0, 0], 9)),
        ("strided", new Layout([3, 5, 7], [30, 1, 4], 1)),
    ];

    private static (Storage cpu, Storage gpu) Pair(DType dtype, double[] values)
    {
        return dtype switch
        {
            DType.Float32 => (Cpu.FromHost<float>(values.Select(v => (float)v).ToArray()), Gpu.FromHost<float>(values.Select(v => (float)v).ToArray())),
            DType.Float64 => (Cpu.FromHost<double>(values), Gpu.FromHost<double>(values)),
            _ => (Cpu.FromHost<int>(values.Select(v => (int)Math.Floor(v)).ToArray()), Gpu.FromHost<int>(values.Select(v => (int)Math.Floor(v)).ToArray())),
        };
    }

    internal static double[] Read(IBackend backend, Storage s, Layout? layout = null)
    {
        var l = layout ?? Layout.Contiguous([s.Length]);
        switch (s.DType)
        {
            case DType.Float32: { var a = new float[l.Count]; backend.ToHost<float>(s, l, a); return a.Select(v => (double)v).ToArray(); }
            case DType.Float64: { var a = new double[l.Count]; backend.ToHost<double>(s, l, a); return a; }
            default: { var a = new int[l.Count]; backend.ToHost<int>(s, l, a); return a.Select(v => (double)v).ToArray(); }
        }
    }

    /// <summary>Values on a quarter grid, so comparisons and ties actually occur.</summary>
    private static double[] Quarters(int n, int seed, double lo = -2, double hi = 2) =>
        TestData.Values(n, seed, lo, hi).Select(v => Math.Round(v * 4) / 4).ToArray();

    private static void Same(Storage cpu, Storage gpu, string what, double scale = 1)
    {
        Assert.Equal(cpu.DType, gpu.DType);
        Assert.Equal(cpu.Length, gpu.Length);
        TestData.Close(Read(Cpu, cpu), Read(Gpu, gpu), cpu.DType, what, scale);
    }

    public static TheoryData<DType> FloatTypes => new(DType.Float32, DType.Float64);

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryUnaryOpOnEveryView(DType dtype)
    {
        var signed = Pair(dtype, Quarters(BufferLength, 1));
        var positive = Pair(dtype, Quarters(BufferLength, 2, 0.25, 3));
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            bool needsPositive = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.PowScalar or UnaryOp.RDivScalar;
            var (c, g) = needsPositive ? positive : signed;
            double s = op switch { UnaryOp.PowScalar => 3, UnaryOp.EqScalar => 0.5, _ => 1.25 };
            foreach (var (name, l) in Views3)
                Same(Cpu.Unary(op, c, l, s), Gpu.Unary(op, g, l, s), $"{op} {dtype.Name()} on {name}");
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void EveryBinaryOpOnBroadcastAndStridedPairs(DType dtype)
    {
        var a = Pair(dtype, Quarters(BufferLength, 3));
        var b = Pair(dtype, Quarters(BufferLength, 4, 0.25, 2));
        foreach (var op in Enum.GetValues<BinaryOp>())
            for (int i = 0; i < Views3.Length; i++)
            {
                var la = Views3[i].layout;
                var lb = Views3[(i + 2) % Views3.Length].layout;
                Same(Cpu.Binary(op, a.cpu, la, b.cpu, lb), Gpu.Binary(op, a.gpu, la, b.gpu, lb), $"{op} {dtype.Name()} {Views3[i].name} with {Views3[(i + 2) % Views3.Length].name}");
            }
    }

    [Fact]
    public void WhereWithEveryConditionType()
    {
        foreach (var vt in new[] { DType.Float32, DType.Float64 })
            foreach (var ct in new[] { DType.Float32, DType.Float64, DType.Int32 })
            {
                var cond = Pair(ct, TestData.Values(BufferLength, 5, -1, 2).Select(v => v < 0.5 ? 0.0 : 1.0).ToArray());
                var a = Pair(vt, TestData.Values(BufferLength, 6));
                var b = Pair(vt, TestData.Values(BufferLength, 7));
                var (lc, la, lb) = (Views3[2].layout, Views3[3].layout, Views3[0].layout);
                Same(Cpu.Where(cond.cpu, lc, a.cpu, la, b.cpu, lb), Gpu.Where(cond.gpu, lc, a.gpu, la, b.gpu, lb), $"where {vt.Name()} cond {ct.Name()}");
            }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ReductionsOverAxisSets(DType dtype)
    {
        var x = Pair(dtype, Quarters(BufferLength, 8));
        int[][] axisSets = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
        foreach (var op in Enum.GetValues<ReduceOp>())
            foreach (var (name, l) in Views3.Take(4))
                foreach (var axes in axisSets)
                    Same(Cpu.Reduce(op, x.cpu, l, axes), Gpu.Reduce(op, x.gpu, l, axes), $"{op} over [{string.Join(",", axes)}] of {name}");
    }

    [Fact]
    public void ReductionOfLongRowsUsesTheWholeBlock()
    {
        var values = TestData.Values(3 * 1000, 9);
        var x = Pair(DType.Float64, values);
        var l = Layout.Contiguous([3, 1000]);
        foreach (var op in Enum.GetValues<ReduceOp>())
            Same(Cpu.Reduce(op, x.cpu, l, [1]), Gpu.Reduce(op, x.gpu, l, [1]), $"{op} of rows of 1000");
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ArgMaxAndArgMinPickTheFirstExtreme(DType dtype)
    {
        var values = Quarters(BufferLength, 10, -1, 1); // few distinct values: many ties
        for (int i = 0; i < values.Length; i += 3) if (values[i] == 0) values[i] = -0.0; // and signed zeros: +0 ranks above -0
        var x = Pair(dtype, values);
        foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
            foreach (var (name, l) in Views3.Take(4))
                for (int axis = 0; axis < 3; axis++)
                    Same(Cpu.ArgReduce(op, x.cpu, l, axis), Gpu.ArgReduce(op, x.gpu, l, axis), $"arg{op} axis {axis} of {name}");
    }

    [Fact]
    public void CastsBetweenEveryPairOfTypes()
    {
        var values = Quarters(BufferLength, 11, -5, 5);
        values[3] = double.NaN;
        values[4] = 1e12; // saturates in int32
        var types = new[] { DType.Float32, DType.Float64, DType.Int32 };
        foreach (var from in types)
            foreach (var to in types)
            {
                var vs = from == DType.Int32 ? values.Select(v => double.IsNaN(v) ? 0 : Math.Clamp(v, -1e6, 1e6)).ToArray() : values;
                var x = Pair(from, vs);
                foreach (var (name, l) in Views3.Take(3))
                    Same(Cpu.Cast(x.cpu, l, to), Gpu.Cast(x.gpu, l, to), $"cast {from.Name()}→{to.Name()} of {name}");
            }
    }

    [Fact]
    public void ContiguousCopyIntoFullZerosAndHostTransfers()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var x = Pair(dtype, Quarters(BufferLength, 12, -9, 9));
            foreach (var (name, l) in Views3)
            {
                Same(Cpu.Contiguous(x.cpu, l), Gpu.Contiguous(x.gpu, l), $"contiguous {dtype.Name()} {name}");
                TestData.Close(Read(Cpu, x.cpu, l), Read(Gpu, x.gpu, l), dtype, $"to_host {dtype.Name()} {name}");
            }
            // Copy a transposed view into a strided window of a zero buffer.
            var dc = Cpu.Zeros(dtype, 300); var dg = Gpu.Zeros(dtype, 300);
            var window = new Layout([3, 5, 7], [2, 60, 8], 3);
            Cpu.CopyInto(x.cpu, Views3[2].layout, dc, window);
            Gpu.CopyInto(x.gpu, Views3[2].layout, dg, window);
            Same(dc, dg, $"copy_into {dtype.Name()}");
            // Overlapping copy within one buffer.
            var self = Pair(dtype, Quarters(BufferLength, 13, -9, 9));
            Cpu.CopyInto(self.cpu, new Layout([50], [1], 0), self.cpu, new Layout([50], [1], 10));
            Gpu.CopyInto(self.gpu, new Layout([50], [1], 0), self.gpu, new Layout([50], [1], 10));
            Same(self.cpu, self.gpu, $"overlapping copy_into {dtype.Name()}");
            Same(Cpu.Full(dtype, 33, -3), Gpu.Full(dtype, 33, -3), $"full {dtype.Name()}");
            Same(Cpu.Zeros(dtype, 17), Gpu.Zeros(dtype, 17), $"zeros {dtype.Name()}");
        }
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void AddInPlaceWithAndWithoutScale(DType dtype)
    {
        foreach (double alpha in new[] { 1.0, -0.375 })
        {
            var d = Pair(dtype, TestData.Values(300, 14));
            var s = Pair(dtype, TestData.Values(300, 15));
            Cpu.AddInPlace(d.cpu, s.cpu, alpha);
            Gpu.AddInPlace(d.gpu, s.gpu, alpha);
            Same(d.cpu, d.gpu, $"add_ alpha {alpha}");
        }
        var shorter = Pair(dtype, TestData.Values(10, 16));
        var e = Assert.Throws<ArgumentException>(() => Gpu.AddInPlace(Pair(dtype, TestData.Values(11, 1)).gpu, shorter.gpu, 1));
        Assert.Contains("add_", e.Message);
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void ScaleInPlaceMatchesTheCpu(DType dtype)
    {
        var d = Pair(dtype, TestData.Values(300, 17));
        Cpu.ScaleInPlace(d.cpu, 0.3125);
        Gpu.ScaleInPlace(d.gpu, 0.3125);
        Same(d.cpu, d.gpu, "mul_");
    }

    [Theory]
    [MemberData(nameof(FloatTypes))]
    public void SoftmaxForwardAndBackward(DType dtype)
    {
        int rows = 6, cols = 37;
        var values = TestData.Values(rows * cols, 17, -6, 6);
        for (int c = 0; c < cols; c++) values[2 * cols + c] = double.NegativeInfinity; // a fully masked row
        for (int c = 20; c < cols; c++) values[3 * cols + c] = double.NegativeInfinity; // a causal-style mask
        var x = Pair(dtype, values);
        var grad = Pair(dtype, TestData.Values(rows * cols, 18));
        var layouts = new[] { Layout.Contiguous([rows, cols]), new Layout([3, 2, cols], [cols, 3 * cols, 1], 0) };
        foreach (bool log in new[] { false, true })
            foreach (var l in layouts)
            {
                var yc = Cpu.Softmax(x.cpu, l, log);
                var yg = Gpu.Softmax(x.gpu, l, log);
                Same(yc, yg, $"{(log ? "log_" : "")}softmax {l}");
                var safe = Pair(dtype, TestData.Values(rows * cols, 19, -3, 3));
                var ys = Cpu.Softmax(safe.cpu, l, log); var ysg = Gpu.Softmax(safe.gpu, l, log);
                Same(Cpu.SoftmaxBackward(ys, grad.cpu, rows, cols, log), Gpu.SoftmaxBackward(ysg, grad.gpu, rows, cols, log), $"{(log ? "log_" : "")}softmax backward");
            }
    }

    public static TheoryData<string> MatMulCases => new("plain", "a-transposed", "b-transposed", "both-transposed", "batched", "broadcast-batch",
        "unmergeable-batch", "row-vector", "column-result", "empty-k", "offset-views");

    [Theory]
    [MemberData(nameof(MatMulCases))]
    public void MatMulLayoutsMapToColumnMajorGemm(string name)
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var a = Pair(dtype, TestData.Values(400, 20));
            var b = Pair(dtype, TestData.Values(400, 21));
            var (la, lb) = name switch
            {
                "plain" => (Layout.Contiguous([4, 3]), Layout.Contiguous([3, 5])),
                "a-transposed" => (new Layout([4, 3], [1, 4], 0), Layout.Contiguous([3, 5])),
                "b-transposed" => (Layout.Contiguous([4, 3]), new Layout([3, 5], [1, 3], 0)),
                "both-transposed" => (new Layout([4, 3], [1, 4], 7), new Layout([3, 5], [1, 3], 2)),
                "batched" => (Layout.Contiguous([2, 4, 3]), Layout.Contiguous([2, 3, 5])),
                "broadcast-batch" => (Layout.Contiguous([3, 4, 3]), new Layout([3, 3, 5], [0, 5, 1], 0)),
                "unmergeable-batch" => (new Layout([2, 3, 4, 5], [0, 20, 5, 1], 0), new Layout([2, 3, 5, 2], [30, 10, 2, 1], 0)),
                "row-vector" => (Layout.Contiguous([1, 6]), Layout.Contiguous([6, 4])),
                "column-result" => (Layout.Contiguous([5, 6]), new Layout([6, 1], [1, 6], 0)),
                "empty-k" => (Layout.Contiguous([3, 0]), Layout.Contiguous([0, 4])),
                _ => (new Layout([2, 4, 3], [3, 6, 1], 5), new Layout([2, 3, 5], [1, 2, 6], 11)),
            };
            Same(Cpu.MatMul(a.cpu, la, b.cpu, lb), Gpu.MatMul(a.gpu, la, b.gpu, lb), $"matmul {name} {dtype.Name()}");
        }
    }

    [Fact]
    public void IndexSelectAndIndexAddWithRepeatedIndices()
    {
        int[] idx = [3, 0, 3, 2, 3];
        var ic = Cpu.FromHost<int>(idx); var ig = Gpu.FromHost<int>(idx);
        foreach (var dtype in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var x = Pair(dtype, Quarters(BufferLength, 22, -9, 9));
            var lx = new Layout([2, 4, 3], [1, 6, 2], 1); // strided source
            for (int axis = 0; axis < 3; axis++)
            {
                int[] valid = axis == 0 ? [1, 0, 1] : axis == 1 ? idx : [2, 0, 2, 1];
                var vc = Cpu.FromHost<int>(valid); var vg = Gpu.FromHost<int>(valid);
                Same(Cpu.IndexSelect(x.cpu, lx, axis, vc, valid.Length), Gpu.IndexSelect(x.gpu, lx, axis, vg, valid.Length), $"index_select {dtype.Name()} axis {axis}");
                if (!dtype.IsFloat()) continue;
                var shape = lx.Shape;
                var srcShape = (int[])shape.Clone(); srcShape[axis] = valid.Length;
                int n = srcShape.Aggregate(1, (p, s) => p * s);
                var src = Pair(dtype, TestData.Values(n, 23 + axis));
                var ls = Layout.Contiguous(srcShape);
                Same(Cpu.IndexAdd(shape, axis, vc, valid.Length, src.cpu, ls), Gpu.IndexAdd(shape, axis, vg, valid.Length, src.gpu, ls), $"index_add {dtype.Name()} axis {axis}");
            }
        }
    }

    [Fact]
    public void GatherAndScatterAdd()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var x = Pair(dtype, TestData.Values(60, 24));
            var lx = Layout.Contiguous([3, 4, 5]);
            for (int axis = 0; axis < 3; axis++)
            {
                var ishape = lx.Shape; ishape[axis] = 6;
                int n = ishape.Aggregate(1, (p, s) => p * s);
                int size = lx.Shape[axis];
                var index = TestData.Values(n, 25 + axis, 0, size).Select(v => (int)v).ToArray();
                var ic = Cpu.FromHost<int>(index); var ig = Gpu.FromHost<int>(index);
                var li = Layout.Contiguous(ishape);
                Same(Cpu.Gather(x.cpu, lx, axis, ic, li), Gpu.Gather(x.gpu, lx, axis, ig, li), $"gather axis {axis}");
                var src = Pair(dtype, TestData.Values(n, 28 + axis));
                Same(Cpu.ScatterAdd(lx.Shape, axis, ic, li, src.cpu, li), Gpu.ScatterAdd(lx.Shape, axis, ig, li, src.gpu, li), $"scatter_add axis {axis}", scale: 4);
            }
        }
    }

    [Fact]
    public void OutOfRangeIndicesThrowLikeTheCpu()
    {
        var x = Gpu.FromHost<float>(new float[12]);
        var bad = Gpu.FromHost<int>([0, 4, 1]);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Gpu.IndexSelect(x, Layout.Contiguous([4, 3]), 0, bad, 3));
        Assert.StartsWith("index_select: index 4 is out of range for axis 0 of size 4", e.Message);
        var neg = Gpu.FromHost<int>([-1, 0, 0, 0, 0, 0]);
        var g = Assert.Throws<ArgumentOutOfRangeException>(() => Gpu.Gather(x, Layout.Contiguous([4, 3]), 1, neg, Layout.Contiguous([2, 3])));
        Assert.Contains("gather: index -1", g.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpu.ScatterAdd([4, 3], 0, bad, Layout.Contiguous([1, 3]), x, Layout.Contiguous([1, 3])));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gpu.IndexAdd([4, 3], 0, bad, 3, x, Layout.Contiguous([3, 3])));
    }

    [Fact]
    public void ForeignStoragesAreRejectedByName()
    {
        var cpu = Cpu.FromHost<float>([1f, 2f]);
        var e = Assert.Throws<ArgumentException>(() => Gpu.Unary(UnaryOp.Exp, cpu, Layout.Contiguous([2])));
        Assert.Contains("Exp: expected a storage on cuda:63, got a float32 storage on cpu", e.Message);
    }

    [Fact]
    public void OutOfDeviceMemoryReportsSizeAndStatistics()
    {
        var small = HostEmulator.NewBackend(memoryLimit: 4096);
        var keep = small.Zeros(DType.Float32, 1000);
        var e = Assert.Throws<CudaOutOfMemoryException>(() => small.Zeros(DType.Float32, 1000));
        Assert.Equal(4000, e.RequestedBytes);
        Assert.Contains("emulated device", e.Message);
        keep.Dispose();
        var again = small.Zeros(DType.Float32, 1000); // the disposed block is reused
        Assert.Equal(1, small.Allocator.Stats.CacheHits);
        again.Dispose();
        small.Allocator.EmptyCache();
        Assert.Equal(0, small.Allocator.Stats.ReservedBytes);
    }
}
