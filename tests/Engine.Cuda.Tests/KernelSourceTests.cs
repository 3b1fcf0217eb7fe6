using System.Text.RegularExpressions;
using Engine.Cuda.Runtime;
using Engine.Cuda.Tests.Emulation;

namespace Engine.Cuda.Tests;

/// <summary>Checks on the embedded kernel sources that need no compiler.</summary>
public partial class KernelSourceTests
{
    [GeneratedRegex(@"enum\s+(\w+)\s*\{([^}]*)\}")]
    private static partial Regex EnumPattern();

    /// <summary>The op codes of an enum in a source file, in order, with explicit "= n" honoured.</summary>
    private static List<(string name, int value)> EnumValues(string source, string enumName)
    {
        var m = EnumPattern().Matches(source).Single(x => x.Groups[1].Value == enumName);
        var result = new List<(string, int)>();
        int next = 0;
        foreach (var part in m.Groups[2].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', StringSplitOptions.TrimEntries);
            int v = kv.Length == 2 ? int.Parse(kv[1]) : next;
            result.Add((kv[0], v));
            next = v + 1;
        }
        return result;
    }

    private static string Normalize(string s) => s.Replace("_", "").ToUpperInvariant();

    [Fact]
    public void UnaryCodesMatchTheUnaryOpEnum()
    {
        var codes = EnumValues(KernelSources.Read("elementwise.cu"), "UnaryCode");
        var ops = Enum.GetValues<UnaryOp>();
        Assert.Equal(ops.Length, codes.Count);
        foreach (var op in ops)
        {
            var (name, value) = codes.Single(c => Normalize(c.name) == "U" + Normalize(op.ToString()));
            Assert.True((int)op == value, $"{name} = {value} but UnaryOp.{op} = {(int)op}");
        }
    }

    [Fact]
    public void BinaryCodesMatchTheBinaryOpEnum()
    {
        var codes = EnumValues(KernelSources.Read("elementwise.cu"), "BinaryCode");
        var ops = Enum.GetValues<BinaryOp>();
        Assert.Equal(ops.Length, codes.Count);
        foreach (var op in ops)
            Assert.Equal((int)op, codes.Single(c => Normalize(c.name) == "B" + Normalize(op.ToString())).value);
    }

    [Fact]
    public void ReduceCodesMatchTheReduceOpEnum()
    {
        var codes = EnumValues(KernelSources.Read("common.cuh"), "ReduceCode");
        foreach (var op in Enum.GetValues<ReduceOp>())
            Assert.Equal((int)op, codes.Single(c => Normalize(c.name) == "R" + Normalize(op.ToString())).value);
    }

    [Fact]
    public void KernelLayoutMatchesTheLayStruct()
    {
        // int rank, offset, contiguous, reserved; int shape[8]; int stride[8]
        Assert.Equal(4 * 4 + 2 * 4 * KernelLayout.MaxRank, System.Runtime.CompilerServices.Unsafe.SizeOf<KernelLayout>());
        Assert.Contains($"#define ENGINE_MAX_RANK {KernelLayout.MaxRank}", KernelSources.Read("common.cuh"));
    }

    [Fact]
    public void EveryFamilyIsEmbeddedWithUniqueKernelNames()
    {
        var names = KernelSources.Families.SelectMany(f => HostEmulator.KernelsIn(KernelSources.Read(f + ".cu"))).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.Contains("softmax_bwd_f64", names);
        Assert.Contains("scatter_add_f32", names);
        Assert.Equal(16, KernelSources.Hash("reduce").Length);
        Assert.NotEqual(KernelSources.Hash("reduce"), KernelSources.Hash("softmax"));
    }

    [Fact]
    public void CoalescingMergesContiguousRunsAndKeepsBroadcasts()
    {
        int[] shape = [2, 3, 4];
        int[][] strides = [[12, 4, 1], [0, 0, 1]];
        KernelLayout.Coalesce(ref shape, strides);
        // Dims 0 and 1 merge (both stride sets agree), dim 2 stays.
        Assert.Equal([6, 4], shape);
        Assert.Equal([4, 1], strides[0]);
        Assert.Equal([0, 1], strides[1]);

        int[] t = [4, 1, 3];
        int[][] ts = [[1, 99, 4]]; // a transpose: not mergeable; the size-1 dim drops out
        KernelLayout.Coalesce(ref t, ts);
        Assert.Equal([4, 3], t);
        Assert.Equal([1, 4], ts[0]);
    }
}
