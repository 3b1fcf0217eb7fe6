namespace Engine;

public sealed partial class Tensor
{
    // The raw kernel calls every op's forward goes through: validate, dispatch to the backend, wrap the result.
    // They record nothing; ops add the graph node themselves.

    internal Tensor UnaryRaw(UnaryOp op, string name, double scalar = 0)
    {
        RequireFloat(name);
        return new Tensor(Backend.Unary(op, Storage, Layout, scalar), ShapeSpan);
    }

    internal static Tensor BinaryRaw(BinaryOp op, Tensor a, Tensor b, string name)
    {
        SameDevice(name, a, b);
        SameDType(name, a, b);
        a.RequireFloat(name);
        var shape = Shapes.Broadcast(a.ShapeSpan, b.ShapeSpan, name);
        return new Tensor(a.Backend.Binary(op, a.Storage, a.Layout.BroadcastTo(shape), b.Storage, b.Layout.BroadcastTo(shape)), shape);
    }

    /// <summary>A scalar tensor with this tensor's dtype and device, for ops that take a number.</summary>
    internal Tensor ScalarLike(double value) => Full([], value, DType, Device);

    /// <summary>
    /// The elements as a storage holding exactly them in row-major order (the tensor's own storage when it is
    /// contiguous, starts at 0 and fills it; otherwise a copy). Fused kernels take such storages. Records nothing.
    /// </summary>
    public Storage Packed() =>
        IsDense ? Storage : Backend.Contiguous(Storage, Layout);

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
