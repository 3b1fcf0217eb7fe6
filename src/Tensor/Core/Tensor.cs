using Engine.Autograd;

namespace Engine;

/// <summary>
/// An n-dimensional array on a device: a <see cref="Storage"/> plus a <see cref="Engine.Layout"/> (shape, strides,
/// offset), and, when it takes part in autograd, the <see cref="Node"/> that produced it. Views share storage.
/// The class is split by topic into partial files; each op lives in <c>src/Tensor/Ops/</c> with its backward.
/// </summary>
public sealed partial class Tensor
{
    private bool requiresGrad;

    /// <summary>
    /// A tensor over a backend's <paramref name="storage"/> with a <paramref name="layout"/> (shape, strides, offset)
    /// that must stay inside it. This is how a backend or a fused op outside this assembly returns its results; the
    /// tensor takes no part in autograd until <see cref="Graph.Output"/> records it.
    /// </summary>
    /// <exception cref="ArgumentException">The layout reaches past the storage.</exception>
    public Tensor(Storage storage, Layout layout)
    {
        if (layout.Count > 0 && layout.Rank > 0)
        {
            // Largest reachable index must lie inside the storage.
            long last = layout.Offset;
            for (int d = 0; d < layout.Rank; d++) last += (long)(layout.ShapeArray[d] - 1) * Math.Max(layout.StrideArray[d], 0);
            if (last >= storage.Length || layout.Offset < 0)
                throw new ArgumentException($"tensor: layout ({layout}) reaches element {last} but the storage has {storage.Length}");
        }
        Storage = storage;
        Layout = layout;
    }

    /// <summary>A row-major tensor of <paramref name="shape"/> over <paramref name="storage"/> from its first element.</summary>
    public Tensor(Storage storage, ReadOnlySpan<int> shape) : this(storage, Layout.Contiguous(shape)) { }

    /// <summary>The buffer this tensor views.</summary>
    public Storage Storage { get; }
    /// <summary>Shape, strides and offset of this view.</summary>
    public Layout Layout { get; }
    /// <summary>Element type.</summary>
    public DType DType => Storage.DType;
    /// <summary>The device the data lives on.</summary>
    public Device Device => Storage.Device;
    /// <summary>The backend that runs this tensor's ops.</summary>
    public IBackend Backend => Storage.Backend;
    /// <summary>The shape (a copy).</summary>
    public int[] Shape => Layout.Shape;
    internal ReadOnlySpan<int> ShapeSpan => Layout.ShapeArray;

    /// <summary>
    /// Every element's value when the engine made the tensor with a value known on the host and nobody else holds it
    /// (the seed gradient of <see cref="Backward"/>), so a backward can use it without reading the device; else null.
    /// </summary>
    internal double? KnownValue { get; set; }
    /// <summary>Number of dimensions.</summary>
    public int Rank => Layout.Rank;
    /// <summary>Number of elements.</summary>
    public int Count => Layout.Count;
    /// <summary>True when the elements are row-major without gaps.</summary>
    public bool IsContiguous => Layout.IsContiguous;
    /// <summary>
    /// True when the elements are exactly the storage, row-major from its first element (contiguous, offset 0, as many
    /// elements as the storage holds): kernels and in-place updates may then use the storage as the tensor.
    /// </summary>
    public bool IsDense => Layout.IsContiguous && Layout.Offset == 0 && Layout.Count == Storage.Length;

    /// <summary>Size of one dimension; negative axes count from the end.</summary>
    public int Dim(int axis) => Layout.ShapeArray[Shapes.Axis(axis, Rank, "dim", ShapeSpan)];

    /// <summary>An optional name, shown in messages and by <see cref="ToString"/>.</summary>
    public string? Name { get; set; }

    // ---- autograd state ----

    /// <summary>
    /// Whether gradients flow to this tensor. Set it on leaves (parameters, inputs); op outputs get it
    /// from their inputs. Only floating-point tensors can require gradients.
    /// </summary>
    public bool RequiresGrad
    {
        get => requiresGrad;
        set
        {
            if (value && !DType.IsFloat())
                throw new InvalidOperationException($"requires_grad: only floating-point tensors can require gradients, this one is {DType.Name()}");
            if (!value && GradFn is not null)
                throw new InvalidOperationException($"requires_grad: cannot turn off gradients of a non-leaf tensor (made by {GradFn.Name}); use Detach()");
            requiresGrad = value;
        }
    }

    /// <summary>The accumulated gradient of a leaf after <see cref="Backward"/>; null until then or after <see cref="ZeroGrad"/>.</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The op that produced this tensor, when it is part of a recorded graph; null for leaves.</summary>
    public Node? GradFn { get; internal set; }

    /// <summary>True when no recorded op produced this tensor.</summary>
    public bool IsLeaf => GradFn is null;

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor (fluent).</summary>
    public Tensor RequireGrad(bool value = true)
    {
        RequiresGrad = value;
        return this;
    }

    /// <summary>Clears the accumulated gradient.</summary>
    public void ZeroGrad() => Grad = null;

    /// <summary>The same data, cut off from the graph: shares storage, records nothing.</summary>
    public Tensor Detach() => new(Storage, Layout) { Name = Name };

    /// <summary>
    /// Back-propagates from this tensor: accumulates d(this)/d(leaf) into every leaf's <see cref="Grad"/>.
    /// A non-scalar tensor needs a seed gradient of its own shape.
    /// </summary>
    /// <param name="grad">Seed gradient; defaults to 1 for a one-element tensor.</param>
    /// <param name="retainGraph">Keep saved intermediates so Backward can run again over the same graph.</param>
    public void Backward(Tensor? grad = null, bool retainGraph = false) => BackwardEngine.Run(this, grad, retainGraph);

    // ---- host access ----

    /// <summary>Copies the elements in row-major order into a new array; <typeparamref name="T"/> must match <see cref="DType"/>.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        CheckHostType<T>("ToArray");
        var result = new T[Count];
        Backend.ToHost<T>(Storage, Layout, result);
        return result;
    }

    /// <summary>The elements converted to double (any dtype), row-major.</summary>
    public double[] ToDoubleArray() => DType switch
    {
        DType.Float64 => ToArray<double>(),
        DType.Float32 => Array.ConvertAll(ToArray<float>(), v => (double)v),
        DType.BFloat16 => Array.ConvertAll(ToArray<BFloat16>(), v => (double)v.ToSingle()),
        _ => Array.ConvertAll(ToArray<int>(), v => (double)v),
    };

    /// <summary>The value of a one-element tensor as double.</summary>
    public double Item()
    {
        if (Count != 1) throw new InvalidOperationException($"item: tensor of shape {Shapes.Format(ShapeSpan)} has {Count} elements, expected 1");
        return ToDoubleArray()[0];
    }

    /// <summary>The element at a multi-index, as double.</summary>
    [System.Runtime.CompilerServices.IndexerName("At")]
    public double this[params int[] index]
    {
        get
        {
            if (index.Length != Rank) throw new ArgumentException($"indexer: {index.Length} indices for a tensor of rank {Rank} (shape {Shapes.Format(ShapeSpan)})");
            for (int d = 0; d < Rank; d++)
                if ((uint)index[d] >= (uint)Layout.ShapeArray[d])
                    throw new ArgumentOutOfRangeException(nameof(index), $"indexer: index {index[d]} out of range for axis {d} of shape {Shapes.Format(ShapeSpan)}");
            int at = Layout.IndexOf(index);
            return new Tensor(Storage, new Layout([], [], at)).Item();
        }
    }

    private void CheckHostType<T>(string op) where T : unmanaged
    {
        if (DTypes.Of<T>() != DType)
            throw new InvalidOperationException($"{op}<{typeof(T).Name}>: tensor has dtype {DType.Name()}; use ToArray<{(DType == DType.Float32 ? "float" : DType == DType.Float64 ? "double" : DType == DType.BFloat16 ? "BFloat16" : "int")}>() or ToDoubleArray()");
    }

    /// <summary>Throws unless all tensors are on the same device, naming the op and the devices.</summary>
    internal static void SameDevice(string op, Tensor a, Tensor b)
    {
        if (a.Device != b.Device)
            throw new ArgumentException($"{op}: tensors are on different devices ({a.Device} and {b.Device}), shapes {Shapes.Format(a.ShapeSpan)} and {Shapes.Format(b.ShapeSpan)}; move one with To(device)");
    }

    /// <summary>Throws unless both tensors have the same dtype.</summary>
    internal static void SameDType(string op, Tensor a, Tensor b)
    {
        if (a.DType != b.DType)
            throw new ArgumentException($"{op}: dtypes differ ({a.DType.Name()} and {b.DType.Name()}), shapes {Shapes.Format(a.ShapeSpan)} and {Shapes.Format(b.ShapeSpan)}; convert one with To(dtype)");
    }

    /// <summary>Throws unless the tensor has a floating-point dtype.</summary>
    internal void RequireFloat(string op)
    {
        if (DType == DType.BFloat16)
            throw new NotSupportedException($"{op}: bfloat16 tensors (shape {Shapes.Format(ShapeSpan)}) support only casts, copies, views, device moves and matmul; convert with To(DType.Float32) first");
        if (!DType.IsFloat())
            throw new ArgumentException($"{op}: needs a floating-point tensor, got {DType.Name()} of shape {Shapes.Format(ShapeSpan)}");
    }
}
