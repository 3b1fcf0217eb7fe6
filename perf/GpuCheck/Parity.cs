using Engine.Cpu;
using Engine.Cuda;

namespace Engine.GpuCheck;

/// <summary>
/// Every <see cref="IBackend"/> operation on the GPU against the CPU backend, on the same inputs and on several
/// views (contiguous, offset, transposed, broadcast, strided). One table row per op family and dtype, naming the
/// worst case.
/// </summary>
internal sealed class Parity(CudaBackend gpu, Report report)
{
    private static IBackend Cpu => CpuBackend.Instance;
    private const int BufferLength = 4200;

    private static readonly (string name, Layout layout)[] Views =
    [
        ("contiguous", Layout.Contiguous([12, 20, 17])),
        ("offset", new Layout([12, 20, 17], [340, 17, 1], 40)),
        ("transposed", new Layout([12, 20, 17], [1, 204, 12], 0)),
        ("broadcast", new Layout([12, 20, 17], [17, 0, 1], 3)),
        ("strided", new Layout([12, 20, 17], [341, 1, 20], 1)),
    ];

    /// <summary>Worst error of one family: scaled error (≤ 1 passes), absolute error and the case.</summary>
    private sealed class Worst
    {
        public double Scaled, Abs;
        public string Case = "";
        public int Cases;
    }

    private static double[] Values(int n, int seed, double lo, double hi, bool quarters = true)
    {
        var r = new Random(seed);
        var v = new double[n];
        for (int i = 0; i < n; i++)
        {
            double x = lo + (hi - lo) * r.NextDouble();
            v[i] = quarters ? Math.Round(x * 4) / 4 : x;
        }
        return v;
    }

    private (Storage cpu, Storage gpu) Pair(DType dtype, double[] v) => dtype switch
    {
        DType.Float32 => (Cpu.FromHost<float>(Array.ConvertAll(v, x => (float)x)), gpu.FromHost<float>(Array.ConvertAll(v, x => (float)x))),
        DType.Float64 => (Cpu.FromHost<double>(v), gpu.FromHost<double>(v)),
        _ => (Cpu.FromHost<int>(Array.ConvertAll(v, x => (int)Math.Floor(x))), gpu.FromHost<int>(Array.ConvertAll(v, x => (int)Math.Floor(x)))),
    };

    private static double[] Read(IBackend b, Storage s)
    {
        var l = Layout.Contiguous([s.Length]);
        switch (s.DType)
        {
            case DType.Float32: { var a = new float[s.Length]; b.ToHost<float>(s, l, a); return Array.ConvertAll(a, x => (double)x); }
            case DType.Float64: { var a = new double[s.Length]; b.ToHost<double>(s, l, a); return a; }
            default: { var a = new int[s.Length]; b.ToHost<int>(s, l, a); return Array.ConvertAll(a, x => (double)x); }
        }
    }

    private void Compare(Worst w, string name, Storage c, Storage g, double tolScale = 1)
    {
        w.Cases++;
        var e = Read(Cpu, c);
        var a = Read(gpu, g);
        c.Dispose(); g.Dispose();
        if (e.Length != a.Length) { w.Scaled = double.PositiveInfinity; w.Case = $"{name}: {a.Length} values, expected {e.Length}"; return; }
        bool f64 = c.DType == DType.Float64;
        double atol = (f64 ? 1e-12 : 3e-5) * tolScale, rtol = (f64 ? 1e-10 : 3e-5) * tolScale;
        for (int i = 0; i < e.Length; i++)
        {
            if (double.IsNaN(e[i]) && double.IsNaN(a[i])) continue;
            if (double.IsInfinity(e[i]) && e[i] == a[i]) continue;
            double d = Math.Abs(e[i] - a[i]);
            double scaled = double.IsNaN(d) ? double.PositiveInfinity : d / (atol + rtol * Math.Abs(e[i]));
            if (scaled > w.Scaled) { w.Scaled = scaled; w.Abs = d; w.Case = $"{name} [{i}]"; }
        }
    }

    private void Row(string check, Worst w) =>
        report.Add("parity", check, w.Scaled <= 1, $"{w.Cases} cases, max |Δ| {w.Abs:0.0e+0}{(w.Case.Length > 0 ? $" at {w.Case}" : "")}");

    public void Run()
    {
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            string t = dtype == DType.Float32 ? "f32" : "f64";
            Unary(dtype, t);
            Binary(dtype, t);
            WhereAndCopies(dtype, t);
            Reductions(dtype, t);
            Softmax(dtype, t);
            MatMul(dtype, t);
            Indexing(dtype, t);
            Fused(dtype, t);
            Attention(dtype, t);
        }
        Casts();
    }

    private void Unary(DType dtype, string t)
    {
        var w = new Worst();
        var signed = Pair(dtype, Values(BufferLength, 1, -3, 3));
        var positive = Pair(dtype, Values(BufferLength, 2, 0.25, 4));
        foreach (var op in Enum.GetValues<UnaryOp>())
        {
            bool pos = op is UnaryOp.Log or UnaryOp.Sqrt or UnaryOp.Rsqrt or UnaryOp.PowScalar or UnaryOp.RDivScalar;
            var (c, g) = pos ? positive : signed;
            double s = op switch { UnaryOp.PowScalar => 3, UnaryOp.EqScalar => 0.5, _ => 1.25 };
            foreach (var (name, l) in Views) Compare(w, $"{op} {name}", Cpu.Unary(op, c, l, s), gpu.Unary(op, g, l, s), 4);
        }
        Row($"unary, all {Enum.GetValues<UnaryOp>().Length} ops {t}", w);
    }

    private void Binary(DType dtype, string t)
    {
        var w = new Worst();
        var a = Pair(dtype, Values(BufferLength, 3, -3, 3));
        var b = Pair(dtype, Values(BufferLength, 4, 0.25, 3));
        foreach (var op in Enum.GetValues<BinaryOp>())
            for (int i = 0; i < Views.Length; i++)
            {
                var (na, la) = Views[i]; var (nb, lb) = Views[(i + 3) % Views.Length];
                Compare(w, $"{op} {na}/{nb}", Cpu.Binary(op, a.cpu, la, b.cpu, lb), gpu.Binary(op, a.gpu, la, b.gpu, lb));
            }
        Row($"binary, all {Enum.GetValues<BinaryOp>().Length} ops, broadcast {t}", w);
        var add = new Worst();
        foreach (double alpha in new[] { 1.0, -0.3 })
        {
            var d = Pair(dtype, Values(BufferLength, 5, -1, 1, false));
            var s = Pair(dtype, Values(BufferLength, 6, -1, 1, false));
            Cpu.AddInPlace(d.cpu, s.cpu, alpha); gpu.AddInPlace(d.gpu, s.gpu, alpha);
            Compare(add, $"add_ alpha {alpha}", d.cpu, d.gpu);
        }
        Row($"add_ (in place) {t}", add);
    }

    private void WhereAndCopies(DType dtype, string t)
    {
        var w = new Worst();
        foreach (var ct in new[] { DType.Float32, DType.Float64, DType.Int32 })
        {
            var cond = Pair(ct, Values(BufferLength, 7, 0, 2).Select(v => v < 1 ? 0.0 : 1.0).ToArray());
            var a = Pair(dtype, Values(BufferLength, 8, -3, 3)); var b = Pair(dtype, Values(BufferLength, 9, -3, 3));
            Compare(w, $"where cond {ct.Name()}", Cpu.Where(cond.cpu, Views[2].layout, a.cpu, Views[3].layout, b.cpu, Views[4].layout),
                gpu.Where(cond.gpu, Views[2].layout, a.gpu, Views[3].layout, b.gpu, Views[4].layout));
        }
        Row($"where {t}", w);
        var c = new Worst();
        var x = Pair(dtype, Values(BufferLength, 10, -9, 9));
        foreach (var (name, l) in Views) Compare(c, $"contiguous {name}", Cpu.Contiguous(x.cpu, l), gpu.Contiguous(x.gpu, l));
        var dc = Cpu.Zeros(dtype, 9000); var dg = gpu.Zeros(dtype, 9000);
        var window = new Layout([12, 20, 17], [2, 420, 24], 5);
        Cpu.CopyInto(x.cpu, Views[2].layout, dc, window); gpu.CopyInto(x.gpu, Views[2].layout, dg, window);
        Compare(c, "copy_into transposed→strided", dc, dg);
        Compare(c, "full", Cpu.Full(dtype, 1000, -2.5), gpu.Full(dtype, 1000, -2.5));
        Compare(c, "zeros", Cpu.Zeros(dtype, 1000), gpu.Zeros(dtype, 1000));
        Row($"contiguous, copy_into, full, zeros, to_host {t}", c);
    }

    private void Reductions(DType dtype, string t)
    {
        var w = new Worst();
        var x = Pair(dtype, Values(BufferLength, 11, -2, 2, false));
        int[][] sets = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]];
        foreach (var op in Enum.GetValues<ReduceOp>())
            foreach (var (name, l) in Views.Take(4))
                foreach (var axes in sets)
                    Compare(w, $"{op} [{string.Join(",", axes)}] {name}", Cpu.Reduce(op, x.cpu, l, axes), gpu.Reduce(op, x.gpu, l, axes), 10);
        Row($"sum, max, min over axis sets {t}", w);
        var a = new Worst();
        var q = Pair(dtype, Values(BufferLength, 12, -1, 1)); // quarter grid: ties
        foreach (var op in new[] { ReduceOp.Max, ReduceOp.Min })
            foreach (var (name, l) in Views.Take(4))
                for (int axis = 0; axis < 3; axis++)
                    Compare(a, $"arg{op} axis {axis} {name}", Cpu.ArgReduce(op, q.cpu, l, axis), gpu.ArgReduce(op, q.gpu, l, axis));
        Row($"argmax, argmin (ties: first) {t}", a);
    }

    private void Softmax(DType dtype, string t)
    {
        var w = new Worst();
        int rows = 48, cols = 1000;
        var v = Values(rows * cols, 13, -8, 8, false);
        for (int c = 500; c < cols; c++) v[5 * cols + c] = double.NegativeInfinity;
        var x = Pair(dtype, v);
        var g = Pair(dtype, Values(rows * cols, 14, -1, 1, false));
        var layouts = new[] { Layout.Contiguous([rows, cols]), new Layout([6, 8, cols], [cols, 6 * cols, 1], 0) };
        foreach (bool log in new[] { false, true })
            foreach (var l in layouts)
            {
                string n = log ? "log_softmax" : "softmax";
                Compare(w, $"{n} {l}", Cpu.Softmax(x.cpu, l, log), gpu.Softmax(x.gpu, l, log), 4);
                var yc = Cpu.Softmax(x.cpu, Layout.Contiguous([rows, cols]), log);
                var yg = gpu.Softmax(x.gpu, Layout.Contiguous([rows, cols]), log);
                if (!log) Compare(w, $"{n} backward", Cpu.SoftmaxBackward(yc, g.cpu, rows, cols, log), gpu.SoftmaxBackward(yg, g.gpu, rows, cols, log), 4);
            }
        // log-softmax backward needs finite outputs: an unmasked input.
        var xs = Pair(dtype, Values(rows * cols, 15, -8, 8, false));
        var lc = Cpu.Softmax(xs.cpu, Layout.Contiguous([rows, cols]), true); var lg = gpu.Softmax(xs.gpu, Layout.Contiguous([rows, cols]), true);
        Compare(w, "log_softmax backward", Cpu.SoftmaxBackward(lc, g.cpu, rows, cols, true), gpu.SoftmaxBackward(lg, g.gpu, rows, cols, true), 4);
        Row($"softmax, log_softmax fwd+bwd, masked rows {t}", w);
    }

    private void MatMul(DType dtype, string t)
    {
        var w = new Worst();
        var a = Pair(dtype, Values(40000, 16, -1, 1, false));
        var b = Pair(dtype, Values(40000, 17, -1, 1, false));
        (string, Layout, Layout)[] cases =
        [
            ("plain", Layout.Contiguous([64, 48]), Layout.Contiguous([48, 80])),
            ("a^T", new Layout([64, 48], [1, 64], 0), Layout.Contiguous([48, 80])),
            ("b^T", Layout.Contiguous([64, 48]), new Layout([48, 80], [1, 48], 0)),
            ("batched", Layout.Contiguous([4, 32, 48]), Layout.Contiguous([4, 48, 40])),
            ("broadcast batch", Layout.Contiguous([4, 32, 48]), new Layout([4, 48, 40], [0, 40, 1], 0)),
            ("unmergeable batch", new Layout([2, 3, 16, 24], [0, 384, 24, 1], 0), new Layout([2, 3, 24, 8], [576, 192, 8, 1], 0)),
            ("vector", Layout.Contiguous([1, 300]), Layout.Contiguous([300, 7])),
            ("offset views", new Layout([3, 20, 30], [30, 90, 1], 17), new Layout([3, 30, 10], [1, 3, 900], 5)),
        ];
        foreach (var (name, la, lb) in cases) Compare(w, name, Cpu.MatMul(a.cpu, la, b.cpu, lb), gpu.MatMul(a.gpu, la, b.gpu, lb), 10);
        Row($"matmul (cuBLAS) layouts {t}", w);
    }

    private void Indexing(DType dtype, string t)
    {
        var w = new Worst();
        var x = Pair(dtype, Values(BufferLength, 18, -9, 9));
        var lx = Views[2].layout; // transposed source
        var shape = lx.Shape;
        for (int axis = 0; axis < 3; axis++)
        {
            int size = shape[axis];
            int[] idx = Enumerable.Range(0, 25).Select(i => (i * 7 + 3) % size).ToArray(); // repeats
            var ic = Cpu.FromHost<int>(idx); var ig = gpu.FromHost<int>(idx);
            Compare(w, $"index_select axis {axis}", Cpu.IndexSelect(x.cpu, lx, axis, ic, idx.Length), gpu.IndexSelect(x.gpu, lx, axis, ig, idx.Length));
            var srcShape = (int[])shape.Clone(); srcShape[axis] = idx.Length;
            int n = srcShape.Aggregate(1, (p, s) => p * s);
            var src = Pair(dtype, Values(n, 19 + axis, -1, 1, false));
            var ls = Layout.Contiguous(srcShape);
            Compare(w, $"index_add axis {axis}", Cpu.IndexAdd(shape, axis, ic, idx.Length, src.cpu, ls), gpu.IndexAdd(shape, axis, ig, idx.Length, src.gpu, ls), 10);
            var gi = Values(n, 22 + axis, 0, size, false).Select(v => Math.Min((int)v, size - 1)).ToArray();
            var gc = Cpu.FromHost<int>(gi); var gg = gpu.FromHost<int>(gi);
            Compare(w, $"gather axis {axis}", Cpu.Gather(x.cpu, lx, axis, gc, ls), gpu.Gather(x.gpu, lx, axis, gg, ls));
            Compare(w, $"scatter_add axis {axis}", Cpu.ScatterAdd(shape, axis, gc, ls, src.cpu, ls), gpu.ScatterAdd(shape, axis, gg, ls, src.gpu, ls), 10);
        }
        Row($"index_select, index_add, gather, scatter_add {t}", w);
    }

    private void Fused(DType dtype, string t)
    {
        int rows = 64, cols = 768;
        var x = Pair(dtype, Values(rows * cols, 30, -3, 3, false));
        var w = Pair(dtype, Values(cols, 31, 0.5, 1.5, false));
        var b = Pair(dtype, Values(cols, 32, -1, 1, false));
        var dy = Pair(dtype, Values(rows * cols, 33, -1, 1, false));
        var norm = new Worst();
        foreach (bool rms in new[] { false, true })
        {
            var (yc, mc, rc) = Cpu.NormForward(x.cpu, w.cpu, rms ? null : b.cpu, rows, cols, 1e-5, rms);
            var (yg, mg, rg) = gpu.NormForward(x.gpu, w.gpu, rms ? null : b.gpu, rows, cols, 1e-5, rms);
            var (dxc, dwc, dbc) = Cpu.NormBackward(x.cpu, w.cpu, !rms, mc, rc, dy.cpu, rows, cols, rms);
            var (dxg, dwg, dbg) = gpu.NormBackward(x.gpu, w.gpu, !rms, mg, rg, dy.gpu, rows, cols, rms);
            string n = rms ? "rms_norm" : "layer_norm";
            // Compare disposes what it compares: the saved statistics last, after the backward used them.
            Compare(norm, n + " y", yc, yg, 10);
            Compare(norm, n + " dx", dxc, dxg, 10); Compare(norm, n + " dw", dwc!, dwg!, 10);
            Compare(norm, n + " mean", mc, mg, 10); Compare(norm, n + " rstd", rc, rg, 10);
            if (!rms) Compare(norm, n + " db", dbc!, dbg!, 10);
        }
        Row($"layer_norm, rms_norm fwd+bwd {t}", norm);

        var xe = new Worst();
        int[] targets = Enumerable.Range(0, rows).Select(r => r % 7 == 3 ? -100 : (r * 37) % cols).ToArray();
        var tc = Cpu.FromHost<int>(targets); var tg = gpu.FromHost<int>(targets);
        var (lc, sc, nc) = Cpu.CrossEntropyForward(x.cpu, tc, rows, cols, -100);
        var (lg, sg, ng) = gpu.CrossEntropyForward(x.gpu, tg, rows, cols, -100);
        if (nc != ng) { xe.Scaled = double.PositiveInfinity; xe.Case = $"counted rows {ng}, expected {nc}"; }
        Compare(xe, "loss", lc, lg, 10);
        Compare(xe, "dlogits", Cpu.CrossEntropyBackward(x.cpu, tc, sc, rows, cols, -100, 1.0 / nc), gpu.CrossEntropyBackward(x.gpu, tg, sg, rows, cols, -100, 1.0 / ng), 10);
        Compare(xe, "log-sum-exp", sc, sg, 10);
        Row($"cross_entropy fwd+bwd, ignored rows {t}", xe);

        var rope = new Worst();
        int groups = 8, time = 48, dim = 64;
        var cos = Pair(dtype, Enumerable.Range(0, time * dim / 2).Select(i => Math.Cos(0.01 * i)).ToArray());
        var sin = Pair(dtype, Enumerable.Range(0, time * dim / 2).Select(i => Math.Sin(0.01 * i)).ToArray());
        var xr = Pair(dtype, Values(groups * time * dim, 37, -3, 3, false));
        foreach (bool inverse in new[] { false, true })
            Compare(rope, $"rope inverse={inverse}", Cpu.Rope(xr.cpu, cos.cpu, sin.cpu, groups, time, dim, inverse), gpu.Rope(xr.gpu, cos.gpu, sin.gpu, groups, time, dim, inverse));
        Row($"rope and its inverse {t}", rope);

        var opt = new Worst();
        int n2 = 10000;
        var p = Pair(dtype, Values(n2, 34, -1, 1, false)); var g = Pair(dtype, Values(n2, 35, -1, 1, false));
        var m = Pair(dtype, new double[n2]); var v = Pair(dtype, new double[n2]); var buf = Pair(dtype, new double[n2]);
        var q = Pair(dtype, Values(n2, 36, -1, 1, false));
        for (int step = 1; step <= 3; step++)
        {
            Cpu.AdamWStep(p.cpu, g.cpu, m.cpu, v.cpu, 1e-2, 0.9, 0.95, 1e-8, 0.1, step);
            gpu.AdamWStep(p.gpu, g.gpu, m.gpu, v.gpu, 1e-2, 0.9, 0.95, 1e-8, 0.1, step);
            Cpu.SgdStep(q.cpu, g.cpu, buf.cpu, 0.1, 0.9, 0.01, true, step == 1);
            gpu.SgdStep(q.gpu, g.gpu, buf.gpu, 0.1, 0.9, 0.01, true, step == 1);
        }
        Compare(opt, "adamw params", p.cpu, p.gpu, 10); Compare(opt, "adamw m", m.cpu, m.gpu, 10); Compare(opt, "adamw v", v.cpu, v.gpu, 10);
        Compare(opt, "sgd params", q.cpu, q.gpu, 10); Compare(opt, "sgd momentum", buf.cpu, buf.gpu, 10);
        Row($"adamw, sgd (nesterov) steps {t}", opt);
    }

    private void Attention(DType dtype, string t)
    {
        var w = new Worst();
        // a full sequence, and decoding-style rows after cached positions; rows of 72 keys span more than one tile
        AttentionDims[] shapes = [new(1, 2, 72, 72, 32, 0), new(1, 2, 5, 45, 16, 40)];
        string[] labels = ["softmax", "softmax-r", "lssa", "lssar", "lssar-p3", "softplus-l1", "softplus-l1-r", "ssmax", "sigmoid-l1-r", "softmax-w16", "lssar-w24-alibi"];
        int seed = 40;
        foreach (var d in shapes)
            foreach (var label in labels)
            {
                var family = AttentionSpec.Parse(label).Family(d.HeadDim);
                int nq = d.Batch * d.Heads * d.Queries * d.HeadDim, nk = d.Batch * d.Heads * d.Keys * d.HeadDim;
                var q = Pair(dtype, Values(nq, seed++, -2, 2, false)); var k = Pair(dtype, Values(nk, seed++, -2, 2, false));
                var v = Pair(dtype, Values(nk, seed++, -1, 1, false)); var g = Pair(dtype, Values(nq, seed++, -1, 1, false));
                string n = $"{label} Tq={d.Queries} offset={d.QueryOffset}";
                Compare(w, n + " output", Cpu.CausalAttentionForward(q.cpu, k.cpu, v.cpu, d, family), gpu.CausalAttentionForward(q.gpu, k.gpu, v.gpu, d, family), 20);
                Compare(w, n + " weights", Cpu.CausalAttentionWeights(q.cpu, k.cpu, d, family), gpu.CausalAttentionWeights(q.gpu, k.gpu, d, family), 20);
                var (dqc, dkc, dvc) = Cpu.CausalAttentionBackward(q.cpu, k.cpu, v.cpu, g.cpu, d, family);
                var (dqg, dkg, dvg) = gpu.CausalAttentionBackward(q.gpu, k.gpu, v.gpu, g.gpu, d, family);
                Compare(w, n + " dq", dqc, dqg, 50); Compare(w, n + " dk", dkc, dkg, 50); Compare(w, n + " dv", dvc, dvg, 50);
            }
        Row($"causal attention, {labels.Length} variants (tiled kernels) fwd+weights+bwd {t}", w);
    }

    private void Casts()
    {
        var w = new Worst();
        var v = Values(BufferLength, 25, -50, 50);
        v[7] = double.NaN; v[8] = 1e12; v[9] = -1e12;
        var types = new[] { DType.Float32, DType.Float64, DType.Int32 };
        foreach (var from in types)
            foreach (var to in types)
            {
                var x = Pair(from, from == DType.Int32 ? v.Select(d => double.IsNaN(d) ? 0 : Math.Clamp(d, -1e6, 1e6)).ToArray() : v);
                foreach (var (name, l) in Views.Take(3)) Compare(w, $"{from.Name()}→{to.Name()} {name}", Cpu.Cast(x.cpu, l, to), gpu.Cast(x.gpu, l, to));
            }
        Row("cast between float32, float64, int32", w);
    }
}
