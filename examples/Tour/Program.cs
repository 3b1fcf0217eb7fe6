// A tour of the tensor core and autograd: views, broadcasting, reductions, a gradient check,
// and a two-layer network fitted to a noisy sine by plain gradient descent.
using Engine;
using Engine.Autograd;

var x = Tensor.Arange(6).Reshape(2, 3);
Console.WriteLine(x);
Console.WriteLine($"transpose is a view: strides {string.Join(",", x.T.Layout.Strides)}, contiguous={x.T.IsContiguous}");
Console.WriteLine(x + Tensor.FromArray(new float[] { 10, 20, 30 }));
Console.WriteLine($"row sums {x.Sum(1)}");
Console.WriteLine($"softmax rows {x.Softmax(-1)}");

var a = Tensor.RandN([3, 4], 1, DType.Float64).RequireGrad();
var b = Tensor.RandN([4, 2], 2, DType.Float64).RequireGrad();
Console.WriteLine(GradCheck.Check(t => t[0].MatMul(t[1]).Tanh(), [a, b]));

// Fit y = sin(3x) with a 1-32-1 tanh network.
var rng = new Rng(7);
var xs = Tensor.Rand([256, 1], rng, low: -1, high: 1);
var ys = Tensor.FromArray(xs.ToArray<float>().Select(v => MathF.Sin(3 * v)).ToArray(), [256, 1]);
var w1 = Tensor.RandN([1, 32], rng, std: 1.0).RequireGrad();
var b1 = Tensor.Zeros([32]).RequireGrad();
var w2 = Tensor.RandN([32, 1], rng, std: 0.2).RequireGrad();
var b2 = Tensor.Zeros([1]).RequireGrad();
Tensor[] ps = [w1, b1, w2, b2];
for (int step = 0; step <= 2000; step++)
{
    var pred = xs.MatMul(w1).Add(b1).Tanh().MatMul(w2).Add(b2);
    var loss = pred.Sub(ys).Square().Mean();
    foreach (var p in ps) p.ZeroGrad();
    loss.Backward();
    foreach (var p in ps) p.Backend.AddInPlace(p.Storage, p.Grad!.Contiguous().Storage, -0.1);
    if (step % 500 == 0) Console.WriteLine($"step {step,4}: mse {loss.Item():F5}");
}
