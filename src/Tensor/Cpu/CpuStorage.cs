namespace Engine.Cpu;

/// <summary>A CPU buffer: a managed array. Nothing to free.</summary>
/// <typeparam name="T">float, double or int.</typeparam>
public sealed class CpuStorage<T> : Storage where T : unmanaged
{
    /// <summary>Wraps an array (not copied).</summary>
    public CpuStorage(T[] data) : base(DTypes.Of<T>(), data.Length) => Data = data;

    /// <summary>The elements.</summary>
    public T[] Data { get; }

    /// <inheritdoc/>
    public override IBackend Backend => CpuBackend.Instance;
}
