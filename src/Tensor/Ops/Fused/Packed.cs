namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// The elements as a storage holding exactly them in row-major order (the tensor's own storage when it is
    /// contiguous, starts at 0 and fills it; otherwise a copy). Fused kernels take such storages. Records nothing.
    /// </summary>
    internal Storage Packed() =>
        IsContiguous && Layout.Offset == 0 && Count == Storage.Length ? Storage : Backend.Contiguous(Storage, Layout);

    /// <summary>Throws unless <paramref name="t"/> is a 1-D tensor of length <paramref name="n"/> with this tensor's dtype and device.</summary>
    internal void CheckVector(Tensor? t, int n, string op, string what)
    {
        if (t is null) return;
        if (t.Rank != 1 || t.Dim(0) != n)
            throw new ArgumentException($"{op}: {what} must have shape [{n}] (the last dim of the input {Shapes.Format(ShapeSpan)}), got {Shapes.Format(t.ShapeSpan)}");
        SameDType(op, this, t);
        SameDevice(op, this, t);
    }
}
