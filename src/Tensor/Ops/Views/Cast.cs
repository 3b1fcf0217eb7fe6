using Engine.Autograd;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>This tensor converted to another element type (the same tensor when it already has it).</summary>
    public Tensor To(DType dtype)
    {
        if (dtype == DType) return this;
        var y = new Tensor(Backend.Cast(Storage, Layout, dtype), ShapeSpan);
        if (!dtype.IsFloat()) return y;
        return Graph.Output(y, "cast", () => new CastNode(DType), this);
    }

    /// <summary>
    /// This tensor on another device (the same tensor when it is already there). The copy goes through host
    /// memory; gradients flow back to the source device.
    /// </summary>
    public Tensor To(Device device)
    {
        if (device == Device) return this;
        var target = BackendRegistry.Get(device);
        Storage storage = DType switch
        {
            DType.Float32 => target.FromHost<float>(ToArray<float>()),
            DType.Float64 => target.FromHost<double>(ToArray<double>()),
            DType.BFloat16 => target.FromHost<BFloat16>(ToArray<BFloat16>()),
            _ => target.FromHost<int>(ToArray<int>()),
        };
        var y = new Tensor(storage, ShapeSpan);
        return Graph.Output(y, "to_device", () => new ToDeviceNode(Device), this);
    }
}

/// <summary>
/// The gradient is cast back to the input's dtype. Under <see cref="Autocast"/> a float32 → bfloat16 cast receives a
/// float32 gradient (matmul returns float32 gradients for its bfloat16 operands), which passes through unchanged.
/// </summary>
internal sealed class CastNode(DType from) : Node
{
    public override string Name => "cast";
    protected internal override Tensor?[] Backward(Tensor g) => [g.To(from)];
}

/// <summary>The gradient is moved back to the input's device.</summary>
internal sealed class ToDeviceNode(Device from) : Node
{
    public override string Name => "to_device";
    protected internal override Tensor?[] Backward(Tensor g) => [g.To(from)];
}
