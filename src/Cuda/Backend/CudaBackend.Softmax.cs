using Engine.Cuda.Runtime;

namespace Engine.Cuda;

// Native row-wise softmax and log-softmax (softmax.cu), forward and backward.
public sealed partial class CudaBackend
{
    /// <inheritdoc/>
    public Storage Softmax(Storage x, Layout lx, bool log)
    {
        var s = Own(x, "softmax");
        RequireFloat(s, "softmax");
        int cols = lx.Rank == 0 ? 1 : lx.ShapeSpan[^1];
        int rows = cols == 0 ? 0 : lx.Count / cols;
        var y = Allocate(s.DType, lx.Count);
        var k = KernelLayout.From(lx, "softmax");
        LaunchRows("softmax", "softmax_fwd_" + Suffix(s.DType), rows, cols, a => a.Add(rows).Add(cols).Add(s.Pointer).Add(k).Add(y.Pointer).Add(log ? 1 : 0));
        return y;
    }

    /// <inheritdoc/>
    public Storage SoftmaxBackward(Storage y, Storage dy, int rows, int cols, bool log)
    {
        var sy = Own(y, "softmax backward");
        var sg = Own(dy, "softmax backward");
        RequireFloat(sy, "softmax backward");
        var dx = Allocate(sy.DType, rows * cols);
        LaunchRows("softmax", "softmax_bwd_" + Suffix(sy.DType), rows, cols, a => a.Add(rows).Add(cols).Add(sy.Pointer).Add(sg.Pointer).Add(dx.Pointer).Add(log ? 1 : 0));
        return dx;
    }
}
