using System.Reflection;

namespace Engine.Packaging.Tests;

/// <summary>
/// The repository's packages, packed once for all tests of a class: <c>dotnet pack Engine.sln --no-build</c> in the
/// configuration these tests were built in (the project references build what it packs), into a temporary folder
/// that also holds a nuget.config for consumers: the packed folder, the machine's package cache (so that a restore
/// works offline) and the normal feeds, with a packages folder of its own so nothing leaks into the user's cache.
/// </summary>
public sealed class PackedRepository : IDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    public PackedRepository()
    {
        Directory.CreateDirectory(Root);
        Dotnet.Run(RepositoryRoot, Timeout, "pack", Path.Combine(RepositoryRoot, "Engine.sln"), "-c", Configuration, "--no-build", "-o", Packages, "-nr:false");
        var nupkgs = Directory.GetFiles(Packages, "Engine.Nn.*.nupkg");
        if (nupkgs.Length != 1) throw new InvalidOperationException($"expected one Engine.Nn package in {Packages}, found {nupkgs.Length}");
        Version = Path.GetFileNameWithoutExtension(nupkgs[0])["Engine.Nn.".Length..];
        string machineCache = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } cache
            ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        string cacheSource = Directory.Exists(machineCache) ? $"""    <add key="machine-cache" value="{machineCache}" />""" + "\n" : "";
        File.WriteAllText(Path.Combine(Root, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{Path.Combine(Root, "packages-cache")}" />
              </config>
              <packageSources>
                <add key="engine-packed" value="{Packages}" />
            {cacheSource}  </packageSources>
            </configuration>
            """);
    }

    /// <summary>A fresh temporary folder for everything: the packages, the consumers, the tool path.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"engine-packaging-{Guid.NewGuid():N}");

    /// <summary>The folder the packages were packed into.</summary>
    public string Packages => Path.Combine(Root, "nupkg");

    /// <summary>The version every package was packed with (Directory.Build.props).</summary>
    public string Version { get; }

    /// <summary>The configuration these tests (and so the packed projects) were built in.</summary>
    public static string Configuration { get; } =
        typeof(PackedRepository).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    /// <summary>The folder holding Engine.sln, found upwards from the test binaries.</summary>
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Engine.sln above {AppContext.BaseDirectory}");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
