using System.Diagnostics;
using Lathe.Data;
using Lathe.IO;

namespace Lathe.Cli.KillSweep;

/// <summary>What a sweep of one verb found.</summary>
/// <param name="Missed">Moments whose run ended before the kill landed (compared all the same).</param>
/// <param name="Unreadable">Files a kill left unreadable, over all kills (see <see cref="CheckpointAudit"/>).</param>
/// <param name="Identical">Moments whose resumed run ended as the uninterrupted one, file for file.</param>
/// <param name="Differs">Moments whose resumed run differs or could not finish.</param>
/// <param name="Temporaries">Temporaries kills left behind (hidden files, checkpoint.tmp folders), over all kills.</param>
/// <param name="Findings">One line per problem: the moment, and the file or error.</param>
internal sealed record SweepResult(string Verb, int Moments, int Kills, int Missed, int Unreadable, int Identical, int Differs, int Temporaries,
    double Seconds, IReadOnlyList<string> Findings);

/// <summary>An uninterrupted run of a verb: its folder, wall time, when it first passed a kill point, and how often it
/// passed each.</summary>
internal sealed record ReferenceRun(string Folder, double Seconds, double FirstPointSeconds, IReadOnlyDictionary<string, int> Passes);

/// <summary>One moment of a sweep: how often the run was killed, the files each kill left unreadable, the temporaries
/// left, and how the finished run differs from the reference (or why it could not finish); empty lists: all well.</summary>
internal sealed record MomentResult(int Kills, IReadOnlyList<string> Unreadable, int Temporaries, IReadOnlyList<string> Differences);

/// <summary>The kill -9 sweep of one training verb (issue #21): an uninterrupted reference run; then, for each moment
/// of a seeded plan (<see cref="KillMoment"/>), the same run started, SIGKILLed, its folder audited
/// (<see cref="CheckpointAudit"/>) and continued the verb's way (<see cref="SweepVerb"/>) — killed again where the plan
/// says — until it finishes; its files must then equal the reference's bit for bit (<see cref="RunComparison"/>).</summary>
internal static class KillSweepRunner
{
    /// <summary>Sweeps <paramref name="verb"/> in <paramref name="workFolder"/>, which must hold <see cref="SweepInputs"/>.</summary>
    /// <param name="log">Progress lines (stderr in the bench), or null.</param>
    /// <param name="reference">The verb's uninterrupted run when already made (<see cref="RunReference"/>).</param>
    public static SweepResult Sweep(SweepVerb verb, string workFolder, int moments, ulong seed, Action<string>? log = null, ReferenceRun? reference = null)
    {
        var clock = Stopwatch.StartNew();
        reference ??= RunReference(verb, workFolder);
        log?.Invoke($"bench kill: {verb.Name}: uninterrupted run {reference.Seconds:F1} s; kill points passed: " +
            string.Join(", ", KillMoment.Targets.Select(t => $"{t} ×{reference.Passes.GetValueOrDefault(t)}")));
        var plan = KillMoment.Plan(moments, Hash64.Combine(seed, Hash64.Of(verb.Name)), reference.Seconds, reference.FirstPointSeconds, reference.Passes);
        int kills = 0, missed = 0, unreadable = 0, identical = 0, differs = 0, temporaries = 0;
        var findings = new List<string>();
        for (int m = 0; m < plan.Count; m++)
        {
            string label = $"{verb.Name} moment {m + 1}/{plan.Count} ({plan[m]})";
            var r = RunMoment(verb, workFolder, reference, plan[m], $"killed-{verb.Name}-{m + 1}");
            kills += r.Kills;
            if (r.Kills == 0) missed++;
            unreadable += r.Unreadable.Count;
            temporaries += r.Temporaries;
            findings.AddRange(r.Unreadable.Select(u => $"{label}: unreadable: {u}"));
            if (r.Differences.Count == 0) identical++;
            else
            {
                differs++;
                findings.AddRange(r.Differences.Select(d => $"{label}: {d}"));
            }
            log?.Invoke($"bench kill: {label}: {(r.Kills == 0 ? "finished before the kill" : $"killed {r.Kills}×")}" +
                (r.Unreadable.Count > 0 ? $", {r.Unreadable.Count} unreadable files" : "") + " → " +
                (r.Differences.Count == 0 ? "identical" : string.Join("; ", r.Differences.Take(3))));
        }
        return new SweepResult(verb.Name, plan.Count, kills, missed, unreadable, identical, differs, temporaries, clock.Elapsed.TotalSeconds, findings);
    }

    /// <summary>Runs <paramref name="verb"/> uninterrupted into reference-NAME/, counting the kill points it passes.</summary>
    public static ReferenceRun RunReference(SweepVerb verb, string workFolder)
    {
        string folder = Path.Combine(workFolder, "reference-" + verb.Name);
        Clear(folder);
        var straight = LatheChild.Run(workFolder, verb.Fresh(folder), trace: true);
        if (straight.ExitCode != 0)
            throw new InvalidOperationException($"bench kill: {verb.Name}: the uninterrupted run exited {straight.ExitCode}: {straight.LastLine}");
        return new ReferenceRun(folder, straight.Seconds, straight.FirstPointSeconds, CountPasses(straight.Stderr));
    }

    /// <summary>One moment: the run started into <paramref name="runName"/>/, killed as <paramref name="moment"/> says,
    /// audited after each kill, continued until it finishes (at most four times), and compared with the reference. A
    /// run folder that matched is deleted; one that did not is kept for a look.</summary>
    public static MomentResult RunMoment(SweepVerb verb, string workFolder, ReferenceRun reference, KillMoment moment, string runName)
    {
        string run = Path.Combine(workFolder, runName);
        Clear(run);
        var outcome = LatheChild.Run(workFolder, verb.Fresh(run), killAfter: moment.After, pauseAt: moment.PauseAt);
        int kills = 0, temporaries = 0;
        var unreadable = new List<string>();
        string? failure = outcome.ExitCode is { } first && first != 0 ? $"the run exited {first}: {outcome.LastLine}" : null;
        while (outcome.Killed && failure is null)
        {
            kills++;
            unreadable.AddRange(CheckpointAudit.Check(run).Select(p => $"after kill {kills}: {p}"));
            temporaries += CheckpointAudit.Temporaries(run).Count;
            if (kills > 4) { failure = "still not finished after 4 resumes"; break; }
            bool resumable = verb.Resumable(run);
            outcome = LatheChild.Run(workFolder, resumable ? verb.Resume(run) : verb.Fresh(run), killAfter: kills == 1 ? moment.AgainAfter : null);
            if (outcome.ExitCode is { } code && code != 0) failure = $"the {(resumable ? "resumed" : "restarted")} run exited {code}: {outcome.LastLine}";
        }
        var differences = failure is null ? RunComparison.Differences(reference.Folder, run) : [failure];
        if (differences.Count == 0 && unreadable.Count == 0) Clear(run);
        return new MomentResult(kills, unreadable, temporaries, differences);
    }

    /// <summary>Ctrl-C: the run started into <paramref name="runName"/>/ gets SIGINT just after its first checkpoint when
    /// the reference wrote more than one (a trainer's run, mid-training), else halfway through the reference's time; it
    /// must exit by itself — 130 with its state saved (0 when it had already finished) — leave every file readable,
    /// and, continued the verb's way, end as the reference did.</summary>
    public static MomentResult RunInterrupt(SweepVerb verb, string workFolder, ReferenceRun reference, string runName)
    {
        string run = Path.Combine(workFolder, runName);
        Clear(run);
        bool midTraining = reference.Passes.GetValueOrDefault(KillPoints.CheckpointDone) > 1;
        var outcome = LatheChild.Run(workFolder, verb.Fresh(run), interruptAt: midTraining ? KillPoints.CheckpointDone + ":1" : null,
            interruptAfter: midTraining ? null : TimeSpan.FromSeconds(reference.Seconds / 2));
        if (outcome.ExitCode is not (130 or 0))
            return new MomentResult(0, [], 0, [$"Ctrl-C: the run exited {(outcome.ExitCode is { } c ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : "killed")}, not 130: {outcome.LastLine}"]);
        var unreadable = CheckpointAudit.Check(run).Select(p => $"after Ctrl-C: {p}").ToList();
        int temporaries = CheckpointAudit.Temporaries(run).Count;
        string? failure = null;
        if (outcome.ExitCode == 130)
        {
            bool resumable = verb.Resumable(run);
            var resumed = LatheChild.Run(workFolder, resumable ? verb.Resume(run) : verb.Fresh(run));
            if (resumed.ExitCode != 0) failure = $"after Ctrl-C the {(resumable ? "resumed" : "restarted")} run exited {resumed.ExitCode}: {resumed.LastLine}";
        }
        var differences = failure is null ? RunComparison.Differences(reference.Folder, run) : [failure];
        if (differences.Count == 0 && unreadable.Count == 0) Clear(run);
        return new MomentResult(outcome.ExitCode == 130 ? 1 : 0, unreadable, temporaries, differences);
    }

    // "lathe: kill point NAME #N" lines → passes per point.
    static Dictionary<string, int> CountPasses(string stderr)
    {
        var passes = new Dictionary<string, int>();
        foreach (string line in stderr.Split('\n'))
            if (line.StartsWith(KillPoints.TracePrefix, StringComparison.Ordinal))
            {
                string name = line[KillPoints.TracePrefix.Length..].Split(' ')[0];
                passes[name] = passes.GetValueOrDefault(name) + 1;
            }
        return passes;
    }

    static void Clear(string dir)
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
