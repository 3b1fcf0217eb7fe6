namespace Engine.Autograd;

/// <summary>
/// Whether ops record the graph. Recording is on by default; a <see cref="NoGrad"/> scope turns it off.
/// The flag is an <see cref="AsyncLocal{T}"/>: it follows the logical flow of control, so it holds inside
/// awaits and in tasks started inside the scope, and never leaks to other threads or concurrent requests
/// (inference in a server thread does not switch off training in another).
/// </summary>
public static class GradMode
{
    private static readonly AsyncLocal<int> Disabled = new();

    /// <summary>True when ops record the graph.</summary>
    public static bool IsEnabled => Disabled.Value <= 0; // a scope disposed in another flow must not switch recording off

    internal static void Push() => Disabled.Value++;
    internal static void Pop() => Disabled.Value--;
}

/// <summary>
/// A scope in which no op records the graph: <c>using (new NoGrad()) { ... }</c>. Inference inside it builds no
/// graph and keeps no intermediates alive. Scopes nest. See <see cref="GradMode"/> for threading.
/// </summary>
public sealed class NoGrad : IDisposable
{
    private bool disposed;

    /// <summary>Turns recording off until disposed.</summary>
    public NoGrad() => GradMode.Push();

    /// <summary>Restores the previous mode.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        GradMode.Pop();
    }
}
