using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Fuzzing;
using Lathe.Cli.Verbs;
using Lathe.Tests.Data;

namespace Lathe.Tests.Fuzzing;

/// <summary>The fuzz runs CI keeps: every format's reading path survives a few hundred mutated inputs with no crash,
/// hang or memory failure; and the harness itself classifies each outcome as it claims to.</summary>
/// <remarks>Cases per format are chosen from measured rates (2 cores) so the whole class stays near a minute:
/// 300 for the fast text readers, 200 for GGUF and the checkpoint folders, 150 for PEFT, tasks and shards, 100 for
/// N-Triples (a new SQLite store per case). `lathe bench fuzz --cases 1000` runs more; docs/FUZZING.md records it.</remarks>
[Collection(nameof(FuzzCollection))]
public class FuzzRunTests
{
    [Theory]
    [InlineData("chat", 300)]
    [InlineData("preferences", 300)]
    [InlineData("tokenizer", 300)]
    [InlineData("tiktoken", 300)]
    [InlineData("mail", 300)]
    [InlineData("gguf", 200)]
    [InlineData("safetensors", 200)]
    [InlineData("config", 200)]
    [InlineData("shards", 150)]
    [InlineData("peft", 150)]
    [InlineData("task", 150)]
    [InlineData("ntriples", 100)]
    public void Every_mutated_input_is_accepted_or_rejected_in_one_line(string format, int cases)
    {
        using var dir = new TempDir();
        using var target = FuzzTargets.Create(format);
        var (counts, failures, _) = FuzzRunner.Run(target, new FuzzOptions { Cases = cases, Seed = 20261205 }, dir.Path);
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Select(f => $"case {f.Index} {f.Outcome} ({f.Mutations}): {f.Detail}")));
        Assert.Equal(cases, counts.Cases);
        Assert.Equal(0, counts.Failures);
        Assert.True(counts.Accepted > 0, "no case was accepted: the mutations destroy every input");
        // Mail never refuses a message (a bad one is skipped with a warning); every other reader refuses some.
        if (format != "mail") Assert.True(counts.Rejected > 0, "no case was rejected: the mutations change nothing that matters");
    }

    // A target whose reading path is a given action, over one tiny file.
    sealed class ActionTarget(Action<string> run) : FuzzTarget
    {
        public override string Name => "test";
        protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir) =>
            [new FuzzSeed("one", new Dictionary<string, byte[]> { ["f.txt"] = "hello\n"u8.ToArray() }, new Dictionary<string, IReadOnlyList<Mutator>> { ["f.txt"] = [] })];
        public override void Run(string caseDir, FuzzSeed seed) => run(Path.Combine(caseDir, "f.txt"));
    }

    static FuzzCaseResult RunOne(Action<string> run, int timeoutMs = 5000)
    {
        using var dir = new TempDir();
        using var target = new ActionTarget(run);
        target.Prepare(dir.File("seeds"));
        return FuzzRunner.RunCase(target, new FuzzOptions { Cases = 1, Seed = 1, TimeoutMs = timeoutMs }, dir.Path, 0);
    }

    [Fact]
    public void The_harness_classifies_each_outcome()
    {
        Assert.Equal(FuzzOutcome.Accepted, RunOne(_ => { }).Outcome);
        Assert.Equal(FuzzOutcome.Rejected, RunOne(path => throw new InvalidDataException($"{path}: byte offset 3 is wrong")).Outcome);
        // A user error that does not name the file, spans lines, or is not a user error at all is a crash.
        Assert.Equal(FuzzOutcome.Crash, RunOne(_ => throw new InvalidDataException("something is wrong")).Outcome);
        Assert.Equal(FuzzOutcome.Crash, RunOne(path => throw new InvalidDataException($"{path}: line one\nline two")).Outcome);
        var crash = RunOne(path => throw new InvalidOperationException($"{path}: bad"));
        Assert.Equal(FuzzOutcome.Crash, crash.Outcome);
        Assert.Contains("InvalidOperationException", crash.Detail);
        // Over the time limit: a hang, reported without waiting for the case to end.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(FuzzOutcome.Hang, RunOne(_ => Thread.Sleep(3000), timeoutMs: 200).Outcome);
        Assert.True(watch.ElapsedMilliseconds < 2500);
        // Beyond 10× the input + 64 MiB of allocation (managed here): memory, even when the case then succeeds.
        var memory = RunOne(_ => GC.KeepAlive(new byte[80 << 20]));
        Assert.Equal(FuzzOutcome.Memory, memory.Outcome);
        Assert.True(memory.AllocatedBytes >= 80 << 20);
        Assert.Equal(FuzzOutcome.Memory, RunOne(_ => throw new OutOfMemoryException()).Outcome);
    }

    static (int Code, string Stdout, string Stderr) Lathe(params string[] args)
    {
        var root = new RootCommand("lathe") { new Command("bench") { BenchFuzz.Create() } };
        using var capture = new Lathe.Tests.Cli.ConsoleCapture();
        int code = CliRunner.Run(root, args);
        return (code, capture.Stdout, capture.Stderr);
    }

    [Fact]
    public void Bench_fuzz_prints_counts_as_its_last_line_and_refuses_bad_options_in_one_line()
    {
        var (code, stdout, _) = Lathe("bench", "fuzz", "--format", "chat", "--cases", "40", "--seed", "3");
        Assert.Equal(0, code);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        var r = json.RootElement;
        Assert.Equal("fuzz", r.GetProperty("bench").GetString());
        Assert.Equal("chat", r.GetProperty("format").GetString());
        Assert.Equal(40, r.GetProperty("cases").GetInt32());
        Assert.Equal(3, r.GetProperty("seed").GetInt32());
        Assert.Equal(40, r.GetProperty("accepted").GetInt32() + r.GetProperty("rejected").GetInt32());
        Assert.Equal(0, r.GetProperty("crash").GetInt32() + r.GetProperty("hang").GetInt32() + r.GetProperty("memory").GetInt32());
        // The same seed replays the same cases.
        Assert.Equal(stdout.Split("\"cases_per_s\"")[0], Lathe("bench", "fuzz", "--format", "chat", "--cases", "40", "--seed", "3").Stdout.Split("\"cases_per_s\"")[0]);

        foreach (var (args, expected) in new[]
        {
            (new[] { "--format", "pdf" }, "--format 'pdf' is not one of"),
            (new[] { "--format", "chat", "--cases", "0" }, "--cases 0 must be positive"),
            (new[] { "--format", "chat", "--cases", "-5" }, "--cases -5 must be positive"),
            (new[] { "--format", "all", "--replay", "3" }, "--replay needs one --format"),
        })
        {
            var (c, o, e) = Lathe(["bench", "fuzz", .. args]);
            Assert.Equal(2, c);
            Assert.Equal("", o);
            Assert.Single(e.Trim().Split('\n'));
            Assert.Contains(expected, e);
        }
    }
}

/// <summary>Fuzz runs measure allocations with process-wide counters (the native buffer pool's peak), so they run alone.</summary>
[CollectionDefinition(nameof(FuzzCollection), DisableParallelization = true)]
public sealed class FuzzCollection;
