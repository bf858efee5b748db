using System.Diagnostics;

namespace Lathe.Tests.Cli;

/// <summary>Lathe as a .NET tool: `dotnet pack src/Lathe.Cli` makes the package, `dotnet tool install --tool-path`
/// installs it into a temporary folder (never the machine's global tools), and the installed `lathe` runs the README's
/// chain from a working folder outside any checkout — shipped data (the knowledge graph) found beside the program, and
/// a repository-only thing (the npm peers behind `--tokenizer gpt2`) refused with one line and exit 2. One pack for the
/// whole test: packing costs tens of seconds.</summary>
public sealed class ToolPackageTests : IDisposable
{
#if DEBUG
    const string Configuration = "Debug";
#else
    const string Configuration = "Release";
#endif
    readonly string _temp = Path.Combine(Path.GetTempPath(), "lathe-tool-" + Guid.NewGuid().ToString("N"));

    public ToolPackageTests() => Directory.CreateDirectory(_temp);

    public void Dispose() { try { Directory.Delete(_temp, true); } catch (IOException) { } }

    [Fact]
    public void Packed_tool_installs_and_runs_the_chain_from_any_folder()
    {
        string repo = global::Lathe.IO.RepoFiles.Root() ?? throw new InvalidOperationException("the tests run inside the repository");
        string packages = Path.Combine(_temp, "packages"), tools = Path.Combine(_temp, "tools"), work = Path.Combine(_temp, "work");
        Directory.CreateDirectory(work);
        // The build the suite runs on is packed as it is (--no-build): the test checks what ships, not a second build.
        Ok(Run("dotnet", repo, null, "pack", Path.Combine(repo, "src", "Lathe.Cli", "Lathe.Cli.csproj"), "-c", Configuration, "--no-build", "-o", packages, "-nologo"));
        Assert.True(File.Exists(Path.Combine(packages, "Lathe.0.1.0.nupkg")), string.Join(", ", Directory.GetFiles(packages)));
        // Only the local folder as a source: the install must not find (or wait for) a package of the same name elsewhere.
        string config = Path.Combine(_temp, "nuget.config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration><packageSources><clear /><add key="local" value="{packages}" /></packageSources></configuration>
            """);
        Ok(Run("dotnet", _temp, null, "tool", "install", "--tool-path", tools, "--configfile", config, "Lathe"));
        string lathe = Path.Combine(tools, "lathe");
        Assert.True(File.Exists(lathe), "dotnet tool install left no `lathe` command");
        for (var dir = new DirectoryInfo(work); dir is not null; dir = dir.Parent)
            Assert.False(File.Exists(Path.Combine(dir.FullName, "Lathe.sln")), $"{work} lies inside a checkout ({dir.FullName})");

        string help = Ok(Run(lathe, work, null, "--help"));
        Assert.Contains("Usage:\n  lathe [command] [options]", help.Replace("\r", ""));
        string chapter = Path.Combine(Data.Peers.Datasets, "moby-dick", "data", "chapter_1.txt");
        File.Copy(chapter, Path.Combine(work, "corpus.txt"));
        Ok(Run(lathe, work, null, "tokenizer", "train", "--vocab", "300", "--input", "corpus.txt", "--output", "tok.json"));
        Ok(Run(lathe, work, null, "data", "prepare", "--source", "corpus.txt", "--out", "data", "--tokenizer", "tok.json", "--min-words", "5", "--threads", "1"));
        Ok(Run(lathe, work, null, "pretrain", "--config", "gpt2-tiny", "--data", "data", "--out", "run", "--steps", "2", "--eval-every", "0", "--threads", "1"));
        Assert.True(File.Exists(Path.Combine(work, "run", "checkpoint", "model.safetensors")));

        // Shipped data resolves beside the installed program, not in a checkout.
        var (code, stdout, stderr) = Run(lathe, work, null, "kg", "import", "--db", "graph.db");
        Assert.True(code == 0, stderr);
        Assert.Contains("facts (", stdout);
        Assert.Contains(Path.Combine(tools, ".store"), stderr);
        // A repository-only thing: one line, exit 2.
        var refused = Run(lathe, work, new Dictionary<string, string?> { ["LATHE_NODE_MODULES"] = null },
            "tokenizer", "encode", "--tokenizer", "gpt2", "--input", "corpus.txt", "--output", "ids.txt");
        Assert.Equal(2, refused.Code);
        Assert.Equal("lathe: npm packages not found: run scripts/install-peers.sh, or set LATHE_NODE_MODULES to a node_modules folder.", refused.Stderr.Trim());
    }

    static string Ok((int Code, string Stdout, string Stderr) result)
    {
        Assert.True(result.Code == 0, $"exit {result.Code}: {result.Stderr}\n{result.Stdout}");
        return result.Stdout;
    }

    static (int Code, string Stdout, string Stderr) Run(string program, string folder, IDictionary<string, string?>? env, params string[] args)
    {
        var psi = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false, WorkingDirectory = folder };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        // The installed command's launcher finds the runtime the tests run on (`dotnet exec testhost.dll`).
        string? dotnetRoot = Path.GetDirectoryName(Environment.ProcessPath);
        if (dotnetRoot is not null && Directory.Exists(Path.Combine(dotnetRoot, "shared"))) psi.Environment["DOTNET_ROOT"] = dotnetRoot;
        if (env is not null)
            foreach (var (k, v) in env)
                if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(300_000)) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in 300 s"); }
        return (p.ExitCode, output.Result, err.Result);
    }
}
