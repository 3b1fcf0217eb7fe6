namespace Engine.Nn;

/// <summary>An ordered list of submodules named 0, 1, 2, …</summary>
public sealed class ModuleList : Module
{
    private readonly List<Module> items = [];

    /// <summary>Appends a module under the next index and returns it.</summary>
    public T Add<T>(T module) where T : Module
    {
        AddModule(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        items.Add(module);
        return module;
    }

    /// <summary>Number of modules.</summary>
    public int Count => items.Count;

    /// <summary>The module at an index.</summary>
    public Module this[int index] => items[index];
}
