using System.CommandLine;
using System.Text.Json.Nodes;
using Lathe.Cli.Fuzzing;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench fuzz`: the mutation fuzzer over every reader (docs/FUZZING.md). Each case damages a seed file
/// made by our own writers and runs the reading path the user's command takes; the outcome counts and cases per
/// second are the JSON line last. Exit code 1 when any case crashed, hung or broke the memory bound.</summary>
internal static class BenchFuzz
{
    public static Command Create()
    {
        var format = new Option<string>("--format") { Description = $"{string.Join("|", FuzzTargets.Names)}|all.", DefaultValueFactory = _ => "all" };
        var cases = new Option<int>("--cases") { Description = "Cases per format.", DefaultValueFactory = _ => 200 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the mutations (same seed, same cases).", DefaultValueFactory = _ => 1 };
        var timeout = new Option<int>("--timeout-ms") { Description = "A case running longer than this is a hang.", DefaultValueFactory = _ => 5000 };
        var keep = new Option<string?>("--keep-failures") { Description = "Write each failing case's files and its replay command here." };
        var replay = new Option<int?>("--replay") { Description = "Run only this case index (of --format, --seed) and print what it did in full." };
        var command = new Command("fuzz", "Mutation fuzzer over the file readers: counts of accepted, rejected, crash, hang, memory; JSON line last.")
            { format, cases, seed, timeout, keep, replay };
        command.SetAction(r => Run(r.GetValue(format)!, r.GetValue(cases), r.GetValue(seed), r.GetValue(timeout), r.GetValue(keep), r.GetValue(replay)));
        return command;
    }

    static int Run(string format, int cases, ulong seed, int timeoutMs, string? keep, int? replay)
    {
        if (cases <= 0) throw new UserInputException($"bench fuzz: --cases {cases} must be positive");
        if (timeoutMs <= 0) throw new UserInputException($"bench fuzz: --timeout-ms {timeoutMs} must be positive");
        if (replay is < 0) throw new UserInputException($"bench fuzz: --replay {replay} must be a case index (0 or more)");
        string[] names = format == "all" ? FuzzTargets.Names : [format];
        if (replay is not null && names.Length > 1) throw new UserInputException("bench fuzz: --replay needs one --format, not all");
        foreach (string name in names) FuzzTargets.Create(name).Dispose();   // an unknown name fails before any work
        var options = new FuzzOptions { Cases = cases, Seed = seed, TimeoutMs = timeoutMs, KeepFailures = keep, Replay = replay, Progress = Console.Error.WriteLine };
        string work = Path.Combine(Path.GetTempPath(), "lathe-fuzz-" + Guid.NewGuid().ToString("N"));
        var total = new FuzzCounts();
        double seconds = 0;
        var perFormat = new JsonArray();
        try
        {
            foreach (string name in names)
            {
                using var target = FuzzTargets.Create(name);
                var (counts, _, s) = FuzzRunner.Run(target, options, Path.Combine(work, name));
                Console.Error.WriteLine($"fuzz {name}: {counts.Cases} cases in {s:F1} s: {counts.Accepted} accepted, {counts.Rejected} rejected, " +
                    $"{counts.Crash} crash, {counts.Hang} hang, {counts.Memory} memory");
                total.Add(counts);
                seconds += s;
                perFormat.Add(Summary(name, counts, seed, s));
            }
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); }
            catch (IOException) { }   // a hung case's thread may still hold its folder
            catch (UnauthorizedAccessException) { }
        }
        var line = names.Length == 1 ? (JsonObject)perFormat[0]!.DeepClone() : Summary("all", total, seed, seconds);
        if (names.Length > 1) line["formats"] = perFormat;
        Console.WriteLine(line.ToJsonString());
        return total.Failures == 0 ? 0 : 1;
    }

    static JsonObject Summary(string format, FuzzCounts c, ulong seed, double seconds) => new()
    {
        ["bench"] = "fuzz", ["format"] = format, ["cases"] = c.Cases, ["seed"] = seed,
        ["accepted"] = c.Accepted, ["rejected"] = c.Rejected, ["crash"] = c.Crash, ["hang"] = c.Hang, ["memory"] = c.Memory,
        ["cases_per_s"] = Math.Round(c.Cases / Math.Max(seconds, 1e-9), 1),
    };
}
