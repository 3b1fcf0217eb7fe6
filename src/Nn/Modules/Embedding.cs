namespace Engine.Nn;

/// <summary>A lookup table: int32 ids [...] → rows of <c>weight</c> [count, dim], giving [..., dim].</summary>
public sealed class Embedding : Layer
{
    /// <summary>A table of <paramref name="count"/> rows drawn from N(0, <paramref name="std"/>²).</summary>
    public Embedding(int count, int dim, Rng rng, double std = 0.02, DType dtype = DType.Float32)
    {
        if (count <= 0 || dim <= 0) throw new ArgumentException($"embedding: count and dim must be positive, got {count}, {dim}");
        Count = count;
        Dim = dim;
        AddParameter("weight", Tensor.RandN([count, dim], rng, dtype, 0, std));
    }

    /// <summary>Number of rows (the vocabulary size for a token embedding).</summary>
    public int Count { get; }
    /// <summary>Row width.</summary>
    public int Dim { get; }
    /// <summary>The table [count, dim].</summary>
    public Tensor Weight => Param("weight");

    /// <summary>
    /// Looks up int32 ids; an id outside [0, count) is an error naming it, its position and the table size. The ids
    /// are checked once per forward, by the backend's index kernel; only on that error are they copied to the host to
    /// say which one was wrong.
    /// </summary>
    public override Tensor Forward(Tensor input)
    {
        if (input.DType != DType.Int32)
            throw new ArgumentException($"embedding: ids must be int32, got {input.DType.Name()} of shape {Shapes.Format(input.Shape)}");
        try { return Weight.IndexSelect(0, input); }
        catch (ArgumentOutOfRangeException)
        {
            ThrowForFirstBadId(input, Count, "embedding");
            throw;
        }
    }

    /// <summary>Throws for the first id of <paramref name="ids"/> outside [0, <paramref name="count"/>), naming its position; returns if there is none.</summary>
    private static void ThrowForFirstBadId(Tensor ids, int count, string op)
    {
        var values = ids.ToArray<int>();
        for (int i = 0; i < values.Length; i++)
        {
            if ((uint)values[i] < (uint)count) continue;
            var index = new int[ids.Rank];
            for (int d = ids.Rank - 1, rest = i; d >= 0; d--) { index[d] = rest % ids.Dim(d); rest /= ids.Dim(d); }
            throw BadId(op, values[i], index, count);
        }
    }

    /// <summary>The error for token id <paramref name="id"/> at <paramref name="index"/> outside a table of <paramref name="count"/> rows (also the CPU decoder's).</summary>
    internal static ArgumentOutOfRangeException BadId(string op, int id, ReadOnlySpan<int> index, int count) =>
        new("ids", $"{op}: token id {id} at {Shapes.Format(index)} is outside the vocabulary of size {count} (valid ids are 0..{count - 1})");
}
