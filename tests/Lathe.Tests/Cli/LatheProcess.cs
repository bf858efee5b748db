using System.Diagnostics;

namespace Lathe.Tests.Cli;

/// <summary>Runs the `lathe` command as a user would, in a fresh temporary folder: a child process of the built
/// Lathe.Cli.dll with that folder as its working directory, so relative paths in the arguments are the user's.</summary>
internal sealed class LatheProcess : IDisposable
{
    static string Cli => Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll");

    /// <summary>The working folder (deleted on dispose).</summary>
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "lathe-cli-" + Guid.NewGuid().ToString("N"));

    public LatheProcess() => Directory.CreateDirectory(Folder);

    /// <summary>A path inside the working folder.</summary>
    public string PathOf(string relative) => Path.Combine(Folder, relative);

    /// <summary>Runs `lathe args…` and returns its exit code, stdout and stderr.</summary>
    public (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Folder,
        };
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"lathe {string.Join(' ', args)} did not finish in 120 s"); }
        return (p.ExitCode, output, err.Result);
    }

    /// <summary>Runs `lathe args…` and asserts exit code 0 (the stderr is the failure message).</summary>
    public string RunOk(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, $"lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    public void Dispose() { try { Directory.Delete(Folder, true); } catch (IOException) { } }
}
