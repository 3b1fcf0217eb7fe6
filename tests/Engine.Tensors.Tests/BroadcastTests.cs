using CsCheck;

namespace Engine.Tests;

public class BroadcastTests
{
    /// <summary>A random output shape and two operand shapes that broadcast to it (dims dropped or set to 1).</summary>
    private static readonly Gen<(int[] a, int[] b, ulong seed)> Pairs =
        Gen.Select(Gen.Int[0, 4].Array[0, 4], Gen.ULong).Select((outShape, seed) =>
        {
            var rng = new Rng(seed);
            int[] Operand()
            {
                int drop = rng.NextInt(outShape.Length + 1);
                return [.. outShape.Skip(drop).Select(d => rng.NextInt(3) == 0 ? 1 : d)];
            }
            return (Operand(), Operand(), seed);
        });

    [Fact]
    public void BinaryOpsBroadcastLikeNumPyOnRandomShapes()
    {
        Pairs.Sample(p =>
        {
            var (sa, sb, seed) = p;
            var va = Ref.Values(Ref.Count(sa), seed); var vb = Ref.Values(Ref.Count(sb), seed + 1, 0.5, 2);
            var expectedShape = Ref.BroadcastShape(sa, sb);
            Assert.Equal(expectedShape, Shapes.Broadcast(sa, sb, "test"));
            var a = Tensor.FromArray<double>(va, sa); var b = Tensor.FromArray<double>(vb, sb);
            foreach (var (op, f) in new (Func<Tensor, Tensor, Tensor>, Func<double, double, double>)[]
                     { ((x, y) => x + y, (x, y) => x + y), ((x, y) => x.Div(y), (x, y) => x / y), ((x, y) => x.Maximum(y), Math.Max) })
            {
                var expected = Ref.Binary(va, sa, vb, sb, f, out _);
                var r = op(a, b);
                Assert.Equal(expectedShape, r.Shape);
                Ref.Close(expected, r, 1e-15);
                // Broadcasting is symmetric in shape.
                Assert.Equal(expectedShape, op(b, a).Shape);
                // Explicit expansion gives the same values.
                Ref.Close(expected, op(a.Expand(expectedShape), b.Expand(expectedShape)), 1e-15);
            }
        }, iter: 200, threads: 1);
    }

    [Fact]
    public void IncompatibleShapesAreRejectedOnRandomShapes()
    {
        Gen.Select(Gen.Int[1, 4].Array[1, 4], Gen.ULong).Sample((shape, seed) =>
        {
            var rng = new Rng(seed);
            int axis = rng.NextInt(shape.Length);
            shape = shape.ToArray();
            shape[axis] = 2 + rng.NextInt(3);           // neither side is 1, and they differ
            var other = shape.Skip(rng.NextInt(axis + 1)).ToArray();
            other[^(shape.Length - axis)] = shape[axis] + 1;
            var a = Tensor.Zeros(shape); var b = Tensor.Zeros(other);
            var ex = Assert.Throws<ArgumentException>(() => a.Add(b));
            Assert.Contains("add", ex.Message);
            Assert.Contains(Shapes.Format(shape), ex.Message);
            Assert.Contains(Shapes.Format(other), ex.Message);
        }, iter: 100, threads: 1);
    }

    [Fact]
    public void GradientsOfBroadcastOperandsAreSummedBackToTheirShape()
    {
        Pairs.Sample(p =>
        {
            var (sa, sb, seed) = p;
            var a = Tensor.FromArray<double>(Ref.Values(Ref.Count(sa), seed), sa).RequireGrad();
            var b = Tensor.FromArray<double>(Ref.Values(Ref.Count(sb), seed + 7), sb).RequireGrad();
            var y = a.Mul(b);
            y.Sum().Backward();
            Assert.Equal(sa, a.Grad!.Shape);
            Assert.Equal(sb, b.Grad!.Shape);
            // d Σ(a·b)/da = Σ over broadcast copies of b: reference by counting.
            var outShape = y.Shape;
            var expected = new double[Ref.Count(sa)];
            var bv = b.ToDoubleArray();
            for (int i = 0; i < Ref.Count(outShape); i++)
            {
                var idx = Ref.Unravel(i, outShape);
                int extra = outShape.Length - sa.Length, flat = 0;
                for (int d = 0; d < sa.Length; d++) flat = flat * sa[d] + (sa[d] == 1 ? 0 : idx[d + extra]);
                expected[flat] += Ref.At(bv, sb, idx);
            }
            Ref.Close(expected, a.Grad, 1e-12);
        }, iter: 100, threads: 1);
    }
}
