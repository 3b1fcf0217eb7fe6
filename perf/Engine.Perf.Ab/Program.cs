using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

// Engine.Perf.Ab: times the same workload from two build folders of perf/Engine.Perf (each with its own copy of
// Engine.Tensors and Engine.Nn), loaded side by side into one process and alternated, so both see the same state of
// the machine. On a shared VM whose speed drifts by tens of percent between processes this is the only comparison of
// two commits worth reporting. The workloads are Engine.Perf's own (found by reflection, so a build must be recent
// enough to have them).
//
//   Engine.Perf.Ab DIR_A DIR_B WORKLOAD SPEC THREADS PAIRS
//     WORKLOAD: attention-forward | attention (forward + backward) | trainstep | linear (a biased product) | gemm |
//               layernorm (forward + backward)
//     SPEC: softmax | lssar (linear: fused | composed | backward; gemm: M,N,K,nn|tn|nt; layernorm: ROWS,COLS); "A:B" gives each side its own, e.g.
//     softmax:lssar with DIR_A = DIR_B
//   prints the median over PAIRS of B's time over A's (each pair in alternating order), and the range; and the
//   fastest sample of B over the fastest of A (interference only ever slows a sample down, so on a machine whose
//   noise comes in bursts the two fastest samples are the steadier comparison of compute-bound kernels).

if (args.Length != 6)
{
    Console.Error.WriteLine("usage: Engine.Perf.Ab DIR_A DIR_B attention-forward|attention|trainstep|linear|gemm|layernorm SPEC[:SPEC_B] THREADS PAIRS");
    return 2;
}
try
{
    string workload = args[2];
    string[] specs = args[3].Split(':');
    if (specs.Length > 2) throw new ArgumentException($"SPEC is one spec or A:B, got '{args[3]}'");
    int threads = PositiveInt(args[4], "THREADS"), pairs = PositiveInt(args[5], "PAIRS");
    var sides = new[] { Workload.Load(args[0], workload, specs[0], threads), Workload.Load(args[1], workload, specs[^1], threads) };
    // Calls per sample and warm-up calls: a train step is ~0.3 s, an attention call a few ms.
    (int calls, int warm) = workload == "trainstep" ? (1, 40) : (10, 30);
    for (int i = 0; i < warm; i++) foreach (var s in sides) s();
    var ratios = new List<double>(); var times = new[] { new List<double>(), new List<double>() };
    for (int p = 0; p < pairs; p++)
    {
        var t = new double[2];
        foreach (int side in p % 2 == 0 ? new[] { 0, 1 } : new[] { 1, 0 })
        {
            Thread.Sleep(3);   // the other side's worker threads stop spinning
            long start = Stopwatch.GetTimestamp();
            for (int c = 0; c < calls; c++) sides[side]();
            t[side] = Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls;
            times[side].Add(t[side]);
        }
        ratios.Add(t[1] / t[0]);
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{workload} {args[3]}, {threads} thread(s): A {Median(times[0]):F2} ms, B {Median(times[1]):F2} ms; B/A median {Median(ratios):F3} (range {ratios.Min():F3}–{ratios.Max():F3}, {pairs} pairs); fastest B / fastest A {times[1].Min() / times[0].Min():F3}"));
    return 0;
}
catch (Exception e) when (e is ArgumentException or FileNotFoundException or InvalidOperationException)
{
    Console.Error.WriteLine("Engine.Perf.Ab: " + e.Message);
    return 2;
}

static int PositiveInt(string s, string name) =>
    int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw new ArgumentException($"{name} must be a positive integer, got '{s}'");

static double Median(List<double> x)
{
    var y = x.Order().ToList();
    return y.Count % 2 == 1 ? y[y.Count / 2] : (y[y.Count / 2 - 1] + y[y.Count / 2]) / 2;
}

/// <summary>One build's workload as an action, from its own load context.</summary>
internal static class Workload
{
    private const BindingFlags Any = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static;

    public static Action Load(string dir, string workload, string spec, int threads)
    {
        dir = Path.GetFullPath(dir);
        string perfDll = Path.Combine(dir, "Engine.Perf.dll");
        if (!File.Exists(perfDll)) throw new FileNotFoundException($"no Engine.Perf.dll in '{dir}' (a build output folder of perf/Engine.Perf is expected)");
        var context = new BuildContext(dir);
        var perf = context.LoadFromAssemblyPath(perfDll);
        var tensors = context.LoadFromAssemblyName(new AssemblyName("Engine.Tensors"));
        TypeOf(tensors, "Engine.EngineThreads").GetProperty("Count")!.SetValue(null, threads);
        switch (workload)
        {
            case "attention-forward":
            case "attention":
            {
                object attention = AttentionSpec(tensors, spec);
                var inputs = TypeOf(perf, "Engine.Perf.AttentionBench+Inputs");
                object state = Activator.CreateInstance(inputs, nonPublic: true)!;
                var call = inputs.GetMethod(workload == "attention" ? "ForwardBackward" : "Forward", Any)!;
                return () => call.Invoke(state, [attention, false]);
            }
            case "trainstep":
            {
                var loop = TypeOf(perf, "Engine.Perf.TrainStepBench+TrainLoop");
                object state = Activator.CreateInstance(loop, Any, null, [AttentionSpec(tensors, spec)], null)!;
                var step = loop.GetMethod("Step", Any)!;
                return () => step.Invoke(state, null);
            }
            case "linear":
                return Linear(tensors, spec);
            case "gemm":
                return Gemm(tensors, spec);
            case "layernorm":
                return LayerNorm(tensors, spec);
            default:
                throw new ArgumentException($"WORKLOAD must be attention-forward, attention, trainstep, linear, gemm or layernorm; got '{workload}'");
        }
    }

    private static object AttentionSpec(Assembly tensors, string spec) => spec switch
    {
        "softmax" => TypeOf(tensors, "Engine.AttentionSpec").GetProperty("Softmax")!.GetValue(null)!,
        "lssar" => TypeOf(tensors, "Engine.AttentionSpec").GetProperty("Lssar")!.GetValue(null)!,
        _ => throw new ArgumentException($"SPEC must be softmax or lssar for this workload, got '{spec}'"),
    };

    /// <summary>The MLP's up projection with its bias, [4096, 128]·[128, 512] + [512], as one op or as the product then the add.</summary>
    private static Action Linear(Assembly tensors, string spec)
    {
        if (spec is not ("fused" or "composed" or "backward"))
            throw new ArgumentException($"SPEC must be fused, composed or backward (the fused op, forward and backward) for linear, got '{spec}'");
        var tensor = TypeOf(tensors, "Engine.Tensor");
        var RandN = RandNOf(tensor);
        object h = RandN([4096, 128], 4), wT = tensor.GetProperty("T")!.GetValue(RandN([512, 128], 5))!, bias = RandN([512], 3);
        var begin = TypeOf(tensors, "Engine.StorageScope").GetMethod("Begin", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes)!;
        var matMul = tensor.GetMethod("MatMul", [tensor])!;
        var add = tensor.GetMethod("Add", [tensor])!;
        var matMulBias = tensor.GetMethod("MatMulBias", Any);
        if (spec != "composed" && matMulBias is null) throw new InvalidOperationException("this build has no Tensor.MatMulBias");
        if (spec == "backward")
        {
            var requireGrad = tensor.GetMethod("RequireGrad", Any)!;
            object w = requireGrad.Invoke(RandN([512, 128], 5), [true])!, bGrad = requireGrad.Invoke(RandN([512], 3), [true])!, g = RandN([4096, 512], 6);
            var transpose = tensor.GetProperty("T")!;
            var zeroGrad = tensor.GetMethod("ZeroGrad", Any)!;
            var backward = BackwardOfWeightedSum(tensor);
            return () =>
            {
                zeroGrad.Invoke(w, null); zeroGrad.Invoke(bGrad, null);
                using var scope = (IDisposable)begin.Invoke(null, null)!;
                backward(matMulBias!.Invoke(h, [transpose.GetValue(w), bGrad])!, g);
            };
        }
        return spec == "fused"
            ? () => { using var scope = (IDisposable)begin.Invoke(null, null)!; matMulBias!.Invoke(h, [wT, bias]); }
            : () => { using var scope = (IDisposable)begin.Invoke(null, null)!; add.Invoke(matMul.Invoke(h, [wT]), [bias]); };
    }

    /// <summary>
    /// The internal GEMM alone on float32 operands, C = A·B overwritten: SPEC "M,N,K,LAYOUT" with LAYOUT nn (A [m,k],
    /// B [k,n]), tn (A stored [k,m]) or nt (B stored [n,k]), as Engine.Perf's `probe`.
    /// </summary>
    private static Action Gemm(Assembly tensors, string spec)
    {
        string[] parts = spec.Split(',');
        if (parts.Length != 4 || parts[3] is not ("nn" or "tn" or "nt")
            || !int.TryParse(parts[0], out int m) || !int.TryParse(parts[1], out int n) || !int.TryParse(parts[2], out int k) || m <= 0 || n <= 0 || k <= 0)
            throw new ArgumentException($"SPEC must be M,N,K,nn|tn|nt with positive sizes for gemm, e.g. 1024,1024,1024,nn; got '{spec}'");
        var compute = TypeOf(tensors, "Engine.Cpu.Gemm").GetMethod("Compute", Any)!.MakeGenericMethod(typeof(float));
        var rng = new Random(1);
        var a = new float[m * k]; var b = new float[k * n]; var c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        (int ars, int acs) = parts[3][0] == 't' ? (1, m) : (k, 1);
        (int brs, int bcs) = parts[3][1] == 't' ? (1, k) : (n, 1);
        var ps = compute.GetParameters();
        var callArgs = new object?[ps.Length];
        object?[] given = [m, n, k, a, 0, ars, acs, b, 0, brs, bcs, c, 0, n, false];
        for (int i = 0; i < ps.Length; i++) callArgs[i] = i < given.Length ? given[i] : ps[i].DefaultValue;
        return () => compute.Invoke(null, callArgs);
    }

    /// <summary>
    /// A layer norm with weight and bias, forward and backward (of Σ y ⊙ g), on [ROWS, COLS] float32 in a storage scope:
    /// SPEC "ROWS,COLS", e.g. 4096,128 (the train step's norms).
    /// </summary>
    private static Action LayerNorm(Assembly tensors, string spec)
    {
        string[] parts = spec.Split(',');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int rows) || !int.TryParse(parts[1], out int cols) || rows <= 0 || cols <= 0)
            throw new ArgumentException($"SPEC must be ROWS,COLS with positive sizes for layernorm, e.g. 4096,128; got '{spec}'");
        var tensor = TypeOf(tensors, "Engine.Tensor");
        var RandN = RandNOf(tensor);
        var requireGrad = tensor.GetMethod("RequireGrad", Any)!;
        object x = requireGrad.Invoke(RandN([rows, cols], 1), [true])!, w = requireGrad.Invoke(RandN([cols], 2), [true])!,
            b = requireGrad.Invoke(RandN([cols], 3), [true])!, g = RandN([rows, cols], 4);
        var layerNorm = tensor.GetMethods().First(m => m.Name == "LayerNorm" && m.GetParameters().Length >= 2 && m.GetParameters()[0].ParameterType == tensor);
        var lnArgs = new object?[layerNorm.GetParameters().Length];
        lnArgs[0] = w; lnArgs[1] = b;
        for (int i = 2; i < lnArgs.Length; i++) lnArgs[i] = layerNorm.GetParameters()[i].DefaultValue;
        var zeroGrad = tensor.GetMethod("ZeroGrad", Any)!;
        var backward = BackwardOfWeightedSum(tensor);
        var begin = TypeOf(tensors, "Engine.StorageScope").GetMethod("Begin", BindingFlags.Public | BindingFlags.Static, Type.EmptyTypes)!;
        return () =>
        {
            foreach (var t in new[] { x, w, b }) zeroGrad.Invoke(t, null);
            using var scope = (IDisposable)begin.Invoke(null, null)!;
            backward(layerNorm.Invoke(x, lnArgs)!, g);
        };
    }

    /// <summary>(y, g) ↦ Σ y ⊙ g back-propagated (Backward with its defaults): the backward workloads' loss.</summary>
    private static Action<object, object> BackwardOfWeightedSum(Type tensor)
    {
        var mul = tensor.GetMethod("Mul", [tensor])!;
        var sum = tensor.GetMethods().First(m => m.Name == "Sum" && m.GetParameters().All(p => p.IsOptional));
        var sumArgs = sum.GetParameters().Select(p => p.DefaultValue).ToArray();
        var backward = tensor.GetMethods().First(m => m.Name == "Backward" && m.GetParameters().All(p => p.IsOptional));
        var bwArgs = backward.GetParameters().Select(p => p.DefaultValue).ToArray();
        return (y, g) => backward.Invoke(sum.Invoke(mul.Invoke(y, [g]), sumArgs), bwArgs);
    }

    /// <summary>Tensor.RandN(shape, seed) with the other parameters at their defaults (float32 on the CPU).</summary>
    private static Func<int[], ulong, object> RandNOf(Type tensor)
    {
        var randn = tensor.GetMethods().First(m => m.Name == "RandN" && m.GetParameters() is [{ ParameterType.IsArray: true }, { ParameterType: var p }, ..] && p == typeof(ulong));
        var ps = randn.GetParameters();
        return (shape, seed) =>
        {
            var a = new object?[ps.Length];
            a[0] = shape; a[1] = seed;
            for (int i = 2; i < ps.Length; i++) a[i] = ps[i].DefaultValue;
            return randn.Invoke(null, a)!;
        };
    }

    private static Type TypeOf(Assembly assembly, string name) =>
        assembly.GetType(name) ?? throw new InvalidOperationException($"{assembly.GetName().Name} in this build has no {name} (too old for this workload?)");

    /// <summary>Resolves every assembly the build folder holds (its Engine assemblies and packages) from there; the runtime's from the default context.</summary>
    private sealed class BuildContext(string dir) : AssemblyLoadContext(isCollectible: false)
    {
        protected override Assembly? Load(AssemblyName name)
        {
            string path = Path.Combine(dir, name.Name + ".dll");
            return File.Exists(path) ? LoadFromAssemblyPath(path) : null;
        }
    }
}
