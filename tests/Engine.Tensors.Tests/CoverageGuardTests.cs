using System.Reflection;
using Engine.Autograd;

namespace Engine.Tests;

/// <summary>
/// No differentiable op lands without a gradient check.
///
/// How to add an op (see docs/autograd.md): write its public method, forward dispatch and <see cref="Node"/> subclass in
/// one file under src/Tensor/Ops/&lt;family&gt;/, then add a test in this project that runs a float64 gradient check
/// through it (derive from <see cref="GradCheckTestBase"/> and call <c>Check</c>, which also verifies the declaration)
/// and mark the test <c>[CoversNode(typeof(YourNode))]</c>. This guard enumerates every non-abstract Node subclass in
/// the Engine.Tensors assembly by reflection and fails, naming the node, until such a test exists.
/// </summary>
public class CoverageGuardTests
{
    private static IEnumerable<MethodInfo> TestMethods() =>
        typeof(CoverageGuardTests).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly));

    [Fact]
    public void EveryNodeSubclassHasAGradientCheckTest()
    {
        var nodes = typeof(Tensor).Assembly.GetTypes()
            .Where(t => typeof(Node).IsAssignableFrom(t) && !t.IsAbstract)
            .ToHashSet();
        Assert.NotEmpty(nodes);
        var covered = TestMethods().SelectMany(m => m.GetCustomAttributes<CoversNodeAttribute>()).Select(a => a.Node).ToHashSet();
        var missing = nodes.Where(n => !covered.Contains(n)).Select(n => n.FullName).Order().ToArray();
        Assert.True(missing.Length == 0,
            $"these Node subclasses have no gradient-check test: {string.Join(", ", missing)}. " +
            "Add a test that runs GradCheck through the op and mark it [CoversNode(typeof(TheNode))] (see CoverageGuardTests).");
    }

    [Fact]
    public void CoverageDeclarationsAreOnTestsAndNameNodes()
    {
        foreach (var m in TestMethods())
        {
            var attrs = m.GetCustomAttributes<CoversNodeAttribute>().ToArray();
            if (attrs.Length == 0) continue;
            Assert.True(m.GetCustomAttributes<FactAttribute>(inherit: true).Any(),
                $"{m.DeclaringType!.Name}.{m.Name} has [CoversNode] but is not a test ([Fact] or [Theory])");
            foreach (var a in attrs)
                Assert.True(typeof(Node).IsAssignableFrom(a.Node) && !a.Node.IsAbstract,
                    $"{m.DeclaringType!.Name}.{m.Name}: [CoversNode(typeof({a.Node.Name}))] does not name a concrete Node subclass");
        }
    }
}
