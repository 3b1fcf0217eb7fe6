using System.Diagnostics;
using System.Text;

namespace Engine.Packaging.Tests;

/// <summary>Runs the dotnet CLI (or a program it installed) as a child process with a time limit, capturing its output.</summary>
internal static class Dotnet
{
    public sealed record Result(int ExitCode, string Output);

    /// <summary>The dotnet host running these tests, so children use the same SDK installation.</summary>
    public static string Host => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Runs <c>dotnet args</c> in <paramref name="directory"/>; throws with the command and its whole output unless it exits 0.</summary>
    public static string Run(string directory, TimeSpan timeout, params string[] args) => Exec(Host, directory, timeout, args);

    /// <summary>Runs <paramref name="program"/>; throws with the command and its whole output unless it exits 0.</summary>
    public static string Exec(string program, string directory, TimeSpan timeout, params string[] args)
    {
        var r = Start(program, directory, timeout, args);
        if (r.ExitCode != 0)
            throw new Xunit.Sdk.XunitException($"'{Describe(program, args)}' in {directory} exited with {r.ExitCode}:\n{r.Output}");
        return r.Output;
    }

    /// <summary>Runs a child process to its end (killing it, with its children, past <paramref name="timeout"/>).</summary>
    public static Result Start(string program, string directory, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The parent 'dotnet test' may pass MSBuild's own variables down; a child build must find its SDK afresh.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            info.Environment.Remove(key);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        // No build server or compiler server outlives the child (they would hold its output open).
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["UseSharedCompilation"] = "false";
        if (Host != "dotnet") info.Environment["DOTNET_ROOT"] = Path.GetDirectoryName(Host);

        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            process.WaitForExit(TimeSpan.FromSeconds(10));
            lock (output)
                throw new Xunit.Sdk.XunitException($"'{Describe(program, args)}' in {directory} did not finish within {timeout.TotalSeconds:F0} s and was killed; its output so far:\n{output}");
        }
        process.WaitForExit();   // the rest of the redirected output
        lock (output) return new Result(process.ExitCode, output.ToString());
    }

    private static string Describe(string program, string[] args) =>
        string.Join(' ', new[] { Path.GetFileName(program) }.Concat(args.Select(a => a.Contains(' ') ? $"\"{a}\"" : a)));
}
