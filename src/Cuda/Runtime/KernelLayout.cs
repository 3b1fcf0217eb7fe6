using System.Runtime.InteropServices;

namespace Engine.Cuda.Runtime;

/// <summary>
/// A strided view as the kernels take it by value (the <c>Lay</c> struct of <c>common.cuh</c>, field by field).
/// Built from a <see cref="Layout"/> after merging dimensions that are contiguous with each other, so rank 8 covers
/// any layout the tensor ops produce in practice; a view that still needs more dimensions is rejected by name.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct KernelLayout
{
    public const int MaxRank = 8;

    public int Rank;
    public int Offset;
    public int Contiguous;
    public int Reserved;
    public fixed int Shape[MaxRank];
    public fixed int Stride[MaxRank];

    /// <summary>The kernel form of one layout.</summary>
    public static KernelLayout From(Layout layout, string op)
    {
        if (layout.IsContiguous) return ContiguousAt(layout.Offset);
        var shape = layout.Shape;
        var strides = new[] { layout.Strides };
        Coalesce(ref shape, strides);
        return Make(shape, strides[0], layout.Offset, op);
    }

    /// <summary>Kernel forms of several layouts of one shape (broadcast operands), merged consistently.</summary>
    public static KernelLayout[] FromMany(string op, params Layout[] layouts)
    {
        var shape = layouts[0].Shape;
        var strides = layouts.Select(l => l.Strides).ToArray();
        Coalesce(ref shape, strides);
        var result = new KernelLayout[layouts.Length];
        for (int i = 0; i < layouts.Length; i++)
            result[i] = layouts[i].IsContiguous ? ContiguousAt(layouts[i].Offset) : Make(shape, strides[i], layouts[i].Offset, op);
        return result;
    }

    public static KernelLayout ContiguousAt(int offset) => new() { Rank = 0, Offset = offset, Contiguous = 1 };

    private static KernelLayout Make(int[] shape, int[] stride, int offset, string op)
    {
        if (shape.Length > MaxRank)
            throw new NotSupportedException($"{op}: the CUDA kernels take views of at most {MaxRank} non-mergeable dimensions; this view has shape {Shapes.Format(shape)} and strides {Shapes.Format(stride)}; call Contiguous() first");
        var k = new KernelLayout { Rank = shape.Length, Offset = offset, Contiguous = 0 };
        for (int d = 0; d < shape.Length; d++) { k.Shape[d] = shape[d]; k.Stride[d] = stride[d]; }
        return k;
    }

    /// <summary>
    /// Drops size-1 dimensions and merges neighbours d, d+1 when, for every stride set, stride[d] = stride[d+1]·shape[d+1].
    /// The row-major flat index of every element keeps its storage offset.
    /// </summary>
    internal static void Coalesce(ref int[] shape, int[][] strides)
    {
        var dims = shape;
        var s = new List<int>();
        var st = strides.Select(_ => new List<int>()).ToArray();
        for (int d = 0; d < dims.Length; d++)
        {
            if (dims[d] == 1) continue;
            bool merge = s.Count > 0;
            for (int i = 0; merge && i < strides.Length; i++) merge = st[i][^1] == strides[i][d] * dims[d];
            if (merge)
            {
                s[^1] *= dims[d];
                for (int i = 0; i < strides.Length; i++) st[i][^1] = strides[i][d];
                continue;
            }
            s.Add(dims[d]);
            for (int i = 0; i < strides.Length; i++) st[i].Add(strides[i][d]);
        }
        shape = s.ToArray();
        for (int i = 0; i < strides.Length; i++) strides[i] = st[i].ToArray();
    }
}

/// <summary>
/// Packs kernel arguments the way cuLaunchKernel takes them: each value copied into one native buffer, and an
/// array of pointers to them. One per launch; disposing frees the buffer.
/// </summary>
internal sealed unsafe class KernelArgs : IDisposable
{
    private const int Capacity = 2048, MaxArgs = 24;
    private readonly byte* data;
    private readonly void** pointers;
    private int used, count;

    public KernelArgs()
    {
        data = (byte*)NativeMemory.AlignedAlloc(Capacity, 16);
        pointers = (void**)NativeMemory.Alloc((nuint)(MaxArgs * sizeof(void*)));
    }

    public void** Pointers => pointers;

    public KernelArgs Add<T>(T value) where T : unmanaged
    {
        int align = Math.Min(sizeof(T), 8);
        used = (used + align - 1) / align * align;
        if (used + sizeof(T) > Capacity || count >= MaxArgs) throw new InvalidOperationException("kernel arguments exceed the argument buffer");
        *(T*)(data + used) = value;
        pointers[count++] = data + used;
        used += sizeof(T);
        return this;
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(data);
        NativeMemory.Free(pointers);
    }
}
