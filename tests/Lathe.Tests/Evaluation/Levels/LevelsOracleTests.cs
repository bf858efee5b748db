using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Evaluation.Levels;
using Lathe.Tests.Data;
using static Lathe.Tests.Evaluation.Levels.LevelsFixtures;

namespace Lathe.Tests.Evaluation.Levels;

/// <summary>LevelsAssessment against an independent oracle: levels_oracle.py, the same rules written again in Python
/// from their statement, run with Debian's python3 on 400 seeded random results documents whose scores sit on, just
/// beside, and between the built-in anchors and chance levels (the boundaries are where two implementations part).
/// Every task's level or standing, every family's level, the generality and the overall level must agree.</summary>
public class LevelsOracleTests
{
    static readonly string[] Unknown = ["my_task", "another_task"];

    [Fact]
    public void Assessments_match_the_python_oracle_on_random_results()
    {
        var table = BuiltIn;
        var rng = new Random(16);
        var cases = new List<string>();
        for (int c = 0; c < 400; c++)
        {
            var rows = new List<Row>();
            foreach (var (name, reference) in table.Tasks)
            {
                if (rng.NextDouble() < 0.2) continue;                       // a task not run
                double[] marks = [.. reference.Anchors.Select(a => a.Value), reference.Chance ?? 0.0];
                double value = marks[rng.Next(marks.Length)] + rng.Next(5) switch { 0 => 0, 1 => 1e-9, 2 => -1e-9, 3 => 0.03, _ => -0.03 };
                double? stderr = rng.Next(4) switch { 0 => null, 1 => 0.0, 2 => 0.01, _ => 0.05 };
                double? chance = rng.Next(3) == 0 ? null : reference.Chance;
                string metric = rng.NextDouble() < 0.05 ? "other_metric" : reference.Metric;
                rows.Add(new Row(name, metric, rng.NextDouble() < 0.03 ? null : value, stderr, chance));
            }
            if (rng.NextDouble() < 0.3) rows.Add(new Row(Unknown[rng.Next(2)], "acc", rng.NextDouble(), 0.01, 0.25));
            cases.Add(ResultsJson($"case-{c}", [.. rows]));
        }

        using var dir = new TempDir();
        string casesPath = Path.Combine(dir.Path, "cases.json");
        File.WriteAllText(casesPath, "[" + string.Join(",\n", cases) + "]");
        var oracle = JsonNode.Parse(RunPython(Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Evaluation", "Levels", "levels_oracle.py"), BuiltInPath, casesPath))!.AsArray();
        Assert.Equal(cases.Count, oracle.Count);

        int general = 0;
        var levelsSeen = new HashSet<PerformanceLevel>();
        for (int c = 0; c < cases.Count; c++)
        {
            var a = LevelsAssessment.Assess(ResultsDocument.Parse(cases[c], $"case-{c}"), table);
            var expected = oracle[c]!;
            foreach (var t in a.Tasks)
            {
                string got = t.Standing switch
                {
                    TaskStanding.Assessed => ((int)t.Level).ToString(),
                    TaskStanding.NoReference => "no_reference",
                    _ => "metric_missing",
                };
                Assert.True(expected["tasks"]![t.Task]!.ToJsonString().Trim('"') == got, $"case {c} task {t.Task}: lathe {got}, oracle {expected["tasks"]![t.Task]}");
            }
            Assert.Equal(expected["families"]!.AsObject().Count, a.Families.Count);
            foreach (var f in a.Families)
                Assert.True(expected["families"]![f.Family.Name]!.GetValue<int>() == (int)f.Level, $"case {c} family {f.Family.Name}");
            Assert.True(expected["general"]!.GetValue<bool>() == (a.Generality == Generality.General), $"case {c} generality");
            Assert.True(expected["level"]!.GetValue<int>() == (int)a.Level, $"case {c} level: lathe {(int)a.Level}, oracle {expected["level"]}");
            if (a.Generality == Generality.General) general++;
            levelsSeen.Add(a.Level);
        }
        // The cases exercise both columns and most rows, or the agreement would say little.
        Assert.InRange(general, 20, 380);
        Assert.True(levelsSeen.Count >= 4, $"levels seen: {string.Join(", ", levelsSeen)}");
    }

    static string RunPython(params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "levels_oracle.py did not finish in 60 s");
        Assert.True(p.ExitCode == 0, $"levels_oracle.py exited {p.ExitCode}: {err.Result}");
        return output;
    }
}
