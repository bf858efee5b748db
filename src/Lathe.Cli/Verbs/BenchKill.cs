using System.CommandLine;
using System.Text.Json;
using Lathe.Cli.KillSweep;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench kill`: the kill -9 sweep of issue #21 for one training verb or all of them — each run killed
/// with SIGKILL at seeded moments (random times, inside a checkpoint's swap, inside evaluation, inside an atomic
/// write), continued to its end, its files audited after every kill and compared bit for bit with an uninterrupted
/// run (<see cref="KillSweepRunner"/>); then once with Ctrl-C (SIGINT) mid-training. Progress on stderr; one JSON line
/// last. Exit 1 when a sweep found a problem.</summary>
internal static class BenchKill
{
    internal static Command Create()
    {
        var verb = new Option<string>("--verb") { Description = $"The verb to sweep: {string.Join(", ", SweepVerbs.Names)}.", DefaultValueFactory = _ => "all" };
        var moments = new Option<int>("--moments") { Description = "Kill moments per verb.", DefaultValueFactory = _ => 20 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the moments.", DefaultValueFactory = _ => 1 };
        var work = new Option<string?>("--work") { Description = "Work folder (default: a new temporary one, deleted unless a sweep found a problem)." };
        var command = new Command("kill", "Kill -9 sweep: SIGKILL a training verb at many moments, resume each run, check every checkpoint reads and the end is bit-identical; JSON last.")
        {
            verb, moments, seed, work,
        };
        command.SetAction(r => Run(r.GetValue(verb)!, r.GetValue(moments), r.GetValue(seed), r.GetValue(work)));
        return command;
    }

    static int Run(string verbName, int moments, ulong seed, string? workFolder)
    {
        var verbs = SweepVerbs.Select(verbName);
        if (verbs.Count == 0) throw new UserInputException($"bench kill: --verb '{verbName}' is not one of {string.Join(", ", SweepVerbs.Names)}");
        if (moments < 1) throw new UserInputException($"bench kill: --moments: {moments} must be at least 1");
        string folder = workFolder ?? Path.Combine(Path.GetTempPath(), "lathe-kill-" + Guid.NewGuid().ToString("N"));
        if (workFolder is not null && Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
            throw new UserInputException($"bench kill: --work: {folder} is not empty");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        SweepInputs.Write(folder);
        var results = new List<SweepResult>();
        var ctrlC = new List<MomentResult>();
        foreach (var v in verbs)
        {
            var reference = KillSweepRunner.RunReference(v, folder);
            var result = KillSweepRunner.Sweep(v, folder, moments, seed, line => Console.Error.WriteLine(line), reference);
            Console.Error.WriteLine($"bench kill: {v.Name}: {result.Moments} moments, {result.Kills} kills ({result.Missed} runs ended before their kill): " +
                $"{result.Unreadable} unreadable files, {result.Identical} resumed identical, {result.Differs} differ; {result.Seconds:F0} s");
            // And once with Ctrl-C: SIGINT, a clean exit 130 with the state saved, a resume to the same end.
            var interrupted = KillSweepRunner.RunInterrupt(v, folder, reference, "ctrl-c-" + v.Name);
            var problems = interrupted.Unreadable.Concat(interrupted.Differences).ToList();
            if (interrupted.Kills == 0) problems.Add("the run ended before its Ctrl-C");
            Console.Error.WriteLine($"bench kill: {v.Name}: Ctrl-C → " + (problems.Count == 0 ? "exit 130, resumed identical" : string.Join("; ", problems)));
            results.Add(result with { Findings = [.. result.Findings, .. problems.Select(p => $"{v.Name} Ctrl-C: {p}")] });
            ctrlC.Add(interrupted);
        }
        bool clean = results.All(r => r.Unreadable == 0 && r.Differs == 0) && ctrlC.All(c => c.Kills == 1 && c.Unreadable.Count == 0 && c.Differences.Count == 0);
        foreach (var finding in results.SelectMany(r => r.Findings)) Console.Error.WriteLine("bench kill: finding: " + finding);
        if (clean && workFolder is null) Directory.Delete(folder, recursive: true);
        else Console.Error.WriteLine($"bench kill: the runs are in {folder}");
        Console.WriteLine(Json(verbName, moments, seed, results, ctrlC, clock.Elapsed.TotalSeconds));
        return clean ? 0 : 1;
    }

    // {"bench":"kill","verb":…,"moments":…, the totals, "wall_s":…} and, for more than one verb, "per_verb": {name: {…}}.
    static string Json(string verbName, int moments, ulong seed, List<SweepResult> results, List<MomentResult> ctrlC, double seconds)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("bench", "kill");
            w.WriteString("verb", results.Count == 1 ? results[0].Verb : verbName);
            w.WriteNumber("moments", moments);
            w.WriteNumber("seed", seed);
            Totals(w, results, ctrlC);
            w.WriteNumber("wall_s", Math.Round(seconds, 1));
            if (results.Count > 1)
            {
                w.WriteStartObject("per_verb");
                for (int i = 0; i < results.Count; i++)
                {
                    var r = results[i];
                    w.WriteStartObject(r.Verb);
                    Totals(w, [r], [ctrlC[i]]);
                    w.WriteNumber("wall_s", Math.Round(r.Seconds, 1));
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    static void Totals(Utf8JsonWriter w, List<SweepResult> results, List<MomentResult> ctrlC)
    {
        w.WriteNumber("kills", results.Sum(r => r.Kills));
        w.WriteNumber("missed", results.Sum(r => r.Missed));
        w.WriteNumber("unreadable_checkpoints", results.Sum(r => r.Unreadable));
        w.WriteNumber("resumed_identical", results.Sum(r => r.Identical));
        w.WriteNumber("resumed_differs", results.Sum(r => r.Differs));
        w.WriteNumber("leftover_temporaries", results.Sum(r => r.Temporaries));
        // Verbs whose Ctrl-C exited 130 with every file readable and resumed to the uninterrupted end.
        w.WriteNumber("ctrl_c_clean", ctrlC.Count(c => c.Kills == 1 && c.Unreadable.Count == 0 && c.Differences.Count == 0));
    }
}
