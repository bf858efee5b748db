using System.CommandLine;
using Lathe.Evaluation.Levels;
using Lathe.Evaluation.Reports;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval report --run DIR [--out report.html] [--references FILE]`: one self-contained HTML page for a
/// run folder — loss curves (metrics.jsonl), task table and Levels-of-AGI matrix (results.json), scaling plots
/// (scaling.json and its SVGs). A bad file in the folder is exit 2 naming the file, line or field.</summary>
internal static class EvalReportVerb
{
    internal static Command CreateReport()
    {
        var run = new Option<string>("--run") { Description = "Run folder (metrics.jsonl, results.json, scaling.json / *.svg).", Required = true };
        var output = new Option<string?>("--out") { Description = "HTML page to write (default: DIR/report.html)." };
        var references = new Option<string?>("--references") { Description = "Human reference table for the levels (default: data/levels/references.json of the repository)." };
        var report = new Command("report", "Render one HTML page for a run: loss curves, task table, Levels-of-AGI matrix, scaling plots.") { run, output, references };
        report.SetAction(r => Run(r.GetValue(run)!, r.GetValue(output), r.GetValue(references)));
        return report;
    }

    static int Run(string runDir, string? outPath, string? referencesPath)
    {
        if (referencesPath is not null && !File.Exists(referencesPath)) throw new UserInputException($"eval report: --references {referencesPath} not found");
        referencesPath ??= ReferenceTable.FindBuiltIn();
        var contents = RunReport.Gather(runDir, referencesPath);
        outPath ??= Path.Combine(runDir, "report.html");
        RunReport.Write(contents, outPath);
        var parts = new List<string>();
        if (contents.Metrics is not null) parts.Add($"loss curves ({contents.Metrics.Count} steps)");
        if (contents.Results is not null) parts.Add($"{contents.Results.Tasks.Count} tasks");
        if (contents.Levels is not null) parts.Add($"levels: {contents.Levels.Cell}");
        else if (contents.Results is not null) parts.Add("no levels (reference table not found)");
        if (contents.ScalingPlots.Count > 0) parts.Add($"{contents.ScalingPlots.Count} scaling plots");
        Console.WriteLine($"report: {outPath} — {string.Join(", ", parts)}");
        return 0;
    }
}
