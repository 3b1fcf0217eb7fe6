namespace Engine.Nn;

/// <summary>
/// Keys and values of the positions a <see cref="Gpt"/> has already seen, one pair per layer, so that generating
/// each new token costs one step over the cached positions (O(T)) instead of a full pass over the sequence.
/// Pass the same cache to successive <see cref="Gpt.Forward(Tensor, KvCache?)"/> calls; it holds detached tensors (inference only).
/// Threading: a cache is one sequence's state and is not thread-safe; give each thread its own (the model may be shared).
/// </summary>
public sealed class KvCache
{
    private readonly Tensor?[] keys, values;

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

    /// <summary>Forgets every position.</summary>
    public void Clear()
    {
        Array.Clear(keys);
        Array.Clear(values);
        Length = 0;
    }

    /// <summary>
    /// Appends new keys and values [B, H, T, D] for one layer and returns all of them (cached + new) along time.
    /// </summary>
    internal (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if ((uint)layer >= (uint)Layers) throw new ArgumentException($"kv_cache: layer {layer} outside a cache of {Layers} layers");
        k = k.Detach(); v = v.Detach();
        if (keys[layer] is { } pk)
        {
            if (pk.Dim(0) != k.Dim(0) || pk.Dim(1) != k.Dim(1) || pk.Dim(3) != k.Dim(3))
                throw new ArgumentException($"kv_cache: new keys {Shapes.Format(k.Shape)} do not match the cached {Shapes.Format(pk.Shape)} (batch, heads, head dim)");
            k = Tensor.Concat([pk, k], 2);
            v = Tensor.Concat([values[layer]!, v], 2);
        }
        keys[layer] = k;
        values[layer] = v;
        return (k, v);
    }

    /// <summary>Records that <paramref name="count"/> more positions were cached in every layer.</summary>
    internal void Advance(int count) => Length += count;
}
