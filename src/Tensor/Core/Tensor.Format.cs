using System.Globalization;
using System.Text;

namespace Engine;

public sealed partial class Tensor
{
    /// <summary>
    /// Shape, dtype, device and a NumPy-style preview: nested brackets, at most 3 items at each end of a
    /// dimension with "..." between, values printed with at most 4 decimals (scientific notation for very large or small
    /// magnitudes).
    /// </summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("Tensor(");
        if (Name is not null) sb.Append(Name).Append(", ");
        sb.Append("shape=").Append(Shapes.Format(ShapeSpan)).Append(", dtype=").Append(DType.Name());
        if (Device != Device.Cpu) sb.Append(", device=").Append(Device);
        if (GradFn is not null) sb.Append(", grad_fn=").Append(GradFn.Name);
        else if (RequiresGrad) sb.Append(", requires_grad");
        sb.Append(")\n");
        var values = ToDoubleArray();
        Preview(sb, values, Shape, 0, 0, 1);
        return sb.ToString();
    }

    private const int EdgeItems = 3;

    private void Preview(StringBuilder sb, double[] values, int[] shape, int dim, int offset, int indent)
    {
        if (shape.Length == 0) { sb.Append(FormatValue(values[0])); return; }
        int n = shape[dim];
        int stride = 1;
        for (int d = dim + 1; d < shape.Length; d++) stride *= shape[d];
        sb.Append('[');
        for (int i = 0; i < n; i++)
        {
            if (n > 2 * EdgeItems && i == EdgeItems)
            {
                sb.Append(dim == shape.Length - 1 ? "..., " : "...,\n" + new string(' ', indent));
                i = n - EdgeItems;
            }
            if (dim == shape.Length - 1) sb.Append(FormatValue(values[offset + i]));
            else Preview(sb, values, shape, dim + 1, offset + i * stride, indent + 1);
            if (i < n - 1) sb.Append(dim == shape.Length - 1 ? ", " : ",\n" + new string(' ', indent));
        }
        sb.Append(']');
    }

    /// <summary>
    /// Integers as integers; floats with up to 4 decimals, or in scientific notation with 5 significant digits
    /// when that would hide the value (|v| ≥ 1e8, or 0 &lt; |v| &lt; 1e-4).
    /// </summary>
    private string FormatValue(double v)
    {
        if (DType == DType.Int32) return ((long)v).ToString(CultureInfo.InvariantCulture);
        double a = Math.Abs(v);
        bool scientific = double.IsFinite(v) && (a >= 1e8 || (a != 0 && a < 1e-4));
        return v.ToString(scientific ? "0.####e+00" : "0.####", CultureInfo.InvariantCulture);
    }
}
