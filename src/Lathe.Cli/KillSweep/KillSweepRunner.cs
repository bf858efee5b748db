using System.Diagnostics;
using Lathe.Data;
using Lathe.IO;

namespace Lathe.Cli.KillSweep;

/// <summary>What a sweep of one verb found.</summary>
/// <param name="Missed">Moments whose run ended before the kill landed (compared all the same).</param>
/// <param name="Unreadable">Files a kill left unreadable, over all kills (see <see cref="CheckpointAudit"/>).</param>
/// <param name="Identical">Moments whose resumed run ended as the uninterrupted one, file for file.</param>
/// <param name="Differs">Moments whose resumed run differs or could not finish.</param>
/// <param name="Findings">One line per problem: the moment, and the file or error.</param>
internal sealed record SweepResult(string Verb, int Moments, int Kills, int Missed, int Unreadable, int Identical, int Differs, int Temporaries,
    double Seconds, IReadOnlyList<string> Findings);

/// <summary>The kill -9 sweep of one training verb (issue #21): an uninterrupted reference run; then, for each moment
/// of a seeded plan (<see cref="KillMoment"/>), the same run started, SIGKILLed, its folder audited
/// (<see cref="CheckpointAudit"/>) and continued the verb's way (<see cref="SweepVerb"/>) — killed again where the plan
/// says — until it finishes; its files must then equal the reference's bit for bit (<see cref="RunComparison"/>).</summary>
internal static class KillSweepRunner
{
    /// <summary>Sweeps <paramref name="verb"/> in <paramref name="workFolder"/>, which must hold <see cref="SweepInputs"/>.</summary>
    /// <param name="log">Progress lines (stderr in the bench), or null.</param>
    public static SweepResult Sweep(SweepVerb verb, string workFolder, int moments, ulong seed, Action<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        string reference = Path.Combine(workFolder, "reference-" + verb.Name);
        Clear(reference);
        var straight = LatheChild.Run(workFolder, verb.Fresh(reference), trace: true);
        if (straight.ExitCode != 0)
            throw new InvalidOperationException($"bench kill: {verb.Name}: the uninterrupted run exited {straight.ExitCode}: {straight.LastLine}");
        var passes = CountPasses(straight.Stderr);
        log?.Invoke($"bench kill: {verb.Name}: uninterrupted run {straight.Seconds:F1} s; kill points passed: " +
            string.Join(", ", KillMoment.Targets.Select(t => $"{t} ×{passes.GetValueOrDefault(t)}")));

        var plan = KillMoment.Plan(moments, Hash64.Combine(seed, Hash64.Of(verb.Name)), straight.Seconds, passes);
        int kills = 0, missed = 0, unreadable = 0, identical = 0, differs = 0, temporaries = 0;
        var findings = new List<string>();
        for (int m = 0; m < plan.Count; m++)
        {
            var moment = plan[m];
            string run = Path.Combine(workFolder, $"killed-{verb.Name}-{m + 1}");
            Clear(run);
            string label = $"{verb.Name} moment {m + 1}/{plan.Count} ({moment})";
            var outcome = LatheChild.Run(workFolder, verb.Fresh(run), killAfter: moment.After, pauseAt: moment.PauseAt);
            int attempt = 0, killedHere = 0;
            string? failure = null;
            while (outcome.Killed)
            {
                killedHere++;
                foreach (string problem in CheckpointAudit.Check(run)) { unreadable++; findings.Add($"{label}: unreadable after kill {killedHere}: {problem}"); }
                temporaries += CheckpointAudit.Temporaries(run).Count;
                if (++attempt > 4) { failure = "still not finished after 4 resumes"; break; }
                bool resumable = verb.Resumable(run);
                var again = attempt == 1 ? moment.AgainAfter : null;
                outcome = LatheChild.Run(workFolder, resumable ? verb.Resume(run) : verb.Fresh(run), killAfter: again);
                if (outcome.ExitCode is { } code && code != 0) failure = $"the {(resumable ? "resumed" : "restarted")} run exited {code}: {outcome.LastLine}";
            }
            if (outcome.ExitCode is { } first && first != 0 && killedHere == 0) failure = $"the run exited {first}: {outcome.LastLine}";
            if (killedHere == 0) missed++;
            kills += killedHere;
            List<string> differences = failure is null ? RunComparison.Differences(reference, run) : [failure];
            if (differences.Count == 0) identical++;
            else
            {
                differs++;
                findings.AddRange(differences.Select(d => $"{label}: {d}"));
            }
            log?.Invoke($"bench kill: {label}: {(killedHere == 0 ? "finished before the kill" : $"killed {killedHere}×")} → " +
                (differences.Count == 0 ? "identical" : string.Join("; ", differences.Take(3))));
            if (differences.Count == 0) Clear(run);
        }
        return new SweepResult(verb.Name, plan.Count, kills, missed, unreadable, identical, differs, temporaries, clock.Elapsed.TotalSeconds, findings);
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
