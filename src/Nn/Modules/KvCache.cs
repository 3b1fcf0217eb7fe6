namespace Engine.Nn;

/// <summary>
/// Keys and values of the positions a <see cref="Gpt"/> has already seen, one pair per layer, so that generating
/// each new token costs one step over the cached positions (O(T)) instead of a full pass over the sequence.
/// Pass the same cache to successive <see cref="Gpt.Forward(Tensor, KvCache?)"/> calls; it holds detached tensors (inference only).
/// Threading: a cache is one sequence's state and is not thread-safe; give each thread its own (the model may be shared).
/// </summary>
public sealed class KvCache
{
    private readonly Tensor?[] keys, values;   // [B, H, capacity, D] buffers; the first Length positions are filled
    private int reserved;                       // the least capacity new buffers get (a generation's final length)

    /// <summary>An empty cache for a model with <paramref name="layers"/> blocks.</summary>
    public KvCache(int layers)
    {
        if (layers <= 0) throw new ArgumentException($"kv_cache: layers must be positive, got {layers}");
        keys = new Tensor?[layers];
        values = new Tensor?[layers];
    }

    /// <summary>Number of positions cached (the position of the next token).</summary>
    public int Length { get; private set; }

    /// <summary>Number of layers.</summary>
    public int Layers => keys.Length;

    /// <summary>Positions the buffers hold before they must grow (0 before the first append).</summary>
    public int Capacity => keys[0]?.Dim(2) ?? 0;

    /// <summary>Forgets every position (the buffers are kept for the next sequence).</summary>
    public void Clear() => Length = 0;

    /// <summary>
    /// Makes buffers allocated from now on hold at least <paramref name="positions"/> positions, so a generation that
    /// knows its final length never grows them (each growth allocates and copies every layer's keys and values).
    /// </summary>
    internal void Reserve(int positions) => reserved = Math.Max(reserved, positions);

    /// <summary>
    /// Appends new keys and values [B, H, T, D] for one layer and returns all of them (cached + new) along time:
    /// views of buffers that grow by doubling, so a token costs a copy of its own keys and values, not of the whole
    /// cache (the buffers outlive any <see cref="StorageScope"/> a step runs in).
    /// </summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if ((uint)layer >= (uint)Layers) throw new ArgumentException($"kv_cache: layer {layer} outside a cache of {Layers} layers");
        int t = k.Dim(2), end = Length + t;
        bool fits = keys[layer] is not { } pk || (pk.Dim(0) == k.Dim(0) && pk.Dim(1) == k.Dim(1) && pk.Dim(3) == k.Dim(3) && pk.DType == k.DType && pk.Device == k.Device);
        if (!fits && Length == 0) keys[layer] = values[layer] = null;   // a new sequence of another shape: new buffers
        else if (!fits)
            throw new ArgumentException($"kv_cache: new keys {Shapes.Format(k.Shape)} ({k.DType.Name()} on {k.Device}) do not match the cached {Shapes.Format(keys[layer]!.Shape)} ({keys[layer]!.DType.Name()} on {keys[layer]!.Device}) (batch, heads, head dim)");
        var kb = keys[layer] = Write(keys[layer], k, end);
        var vb = values[layer] = Write(values[layer], v, end);
        // Views of the buffers (detached: nothing is recorded); attention reads them in place.
        return (new Tensor(kb.Storage, Positions(kb.Layout, 0, end)), new Tensor(vb.Storage, Positions(vb.Layout, 0, end)));
    }

    /// <summary>Puts <paramref name="x"/> at positions [Length, end) of <paramref name="buffer"/>, growing it first if needed.</summary>
    private Tensor Write(Tensor? buffer, Tensor x, int end)
    {
        if (buffer is null || buffer.Dim(2) < end)
        {
            int capacity = Math.Max(Math.Max(end, reserved), Math.Max(16, 2 * (buffer?.Dim(2) ?? 0)));
            Tensor grown;
            using (StorageScope.Suspend())
                grown = Tensor.Zeros([x.Dim(0), x.Dim(1), capacity, x.Dim(3)], x.DType, x.Device);
            if (buffer is not null && Length > 0) Copy(buffer.Storage, Positions(buffer.Layout, 0, Length), grown, 0);
            buffer = grown;
        }
        Copy(x.Storage, x.Layout, buffer, Length);
        return buffer;
    }

    /// <summary>Copies the positions of a [B, H, T, D] view into <paramref name="buffer"/> from position <paramref name="at"/> on.</summary>
    private static void Copy(Storage from, Layout layout, Tensor buffer, int at) =>
        buffer.Backend.CopyInto(from, layout, buffer.Storage, Positions(buffer.Layout, at, layout.ShapeSpan[2]));

    /// <summary>Positions [start, start + count) of a [B, H, capacity, D] buffer's layout (the time axis narrowed).</summary>
    private static Layout Positions(Layout buffer, int start, int count)
    {
        var shape = buffer.ShapeSpan;
        var strides = buffer.StrideSpan;
        return new Layout([shape[0], shape[1], count, shape[3]], strides, buffer.Offset + start * strides[2]);
    }

    /// <summary>Records that <paramref name="count"/> more positions were cached in every layer.</summary>
    internal void Advance(int count) => Length += count;
}
