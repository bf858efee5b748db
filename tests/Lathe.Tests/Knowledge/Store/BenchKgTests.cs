using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Knowledge.Store;

namespace Lathe.Tests.Knowledge.Store;

/// <summary>`lathe bench kg` ends with its JSON line, and the Python peer builds the very graph Lathe benchmarks.</summary>
[Collection("ConsoleCapture")]
public class BenchKgTests
{
    [Fact]
    public void A_small_run_prints_its_json_line_last()
    {
        var root = new RootCommand("lathe") { new Command("bench") { BenchKg.Create() } };
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var stdout = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(new StringWriter());
        int code;
        try { code = CliRunner.Run(root, ["bench", "kg", "--triples", "500", "--seconds", "0.05"]); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout.ToString().Trim().Split('\n')[^1]);
        Assert.Equal(500, json.RootElement.GetProperty("facts").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("duplicates").GetInt32());
        Assert.Equal(10.0, json.RootElement.GetProperty("match_s_rows").GetDouble());   // 500 facts over 50 subjects
        Assert.True(json.RootElement.GetProperty("match_s_per_s").GetDouble() > 0);
    }

    [Fact]
    public async Task The_python_peer_generates_the_same_graph()
    {
        using var folder = new TempFolder();
        using (var writer = new StreamWriter(folder.File("lathe.jsonl"))) BenchKg.WriteSyntheticJsonl(writer, 730);
        string script = Path.Combine(Lathe.IO.RepoFiles.Root()!, "scripts", "bench", "kg-peer.py");
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(script);
        foreach (string a in new[] { "--triples", "730", "--emit-jsonl" }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, await error);
        File.WriteAllText(folder.File("peer.jsonl"), text);
        using var lathe = KnowledgeStore.Create(folder.File("a.db"));
        using var peer = KnowledgeStore.Create(folder.File("b.db"));
        lathe.Import(folder.File("lathe.jsonl"));
        peer.Import(folder.File("peer.jsonl"));
        Assert.Equal(730, lathe.Match(null, null, null).Count);
        Assert.Equal(StoreFixtures.Dump(lathe, withSources: false), StoreFixtures.Dump(peer, withSources: false));
    }
}
