using System.CommandLine;
using Lathe.Evaluation.Levels;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval levels --results results.json [--references FILE] --out report.html [--json levels.json]`:
/// places the model a results document describes in the Levels-of-AGI matrix (Morris et al. 2023) and writes the HTML
/// report (and the assessment as JSON). Prints the cell and the verdict. A bad results or reference file is exit 2 with
/// one line naming the file and the field.</summary>
internal static class EvalLevelsVerb
{
    internal static Command CreateLevels()
    {
        var results = new Option<string>("--results") { Description = "Results document written by `lathe eval tasks --output`.", Required = true };
        var references = new Option<string?>("--references") { Description = "Human reference table (default: data/levels/references.json of the repository)." };
        var output = new Option<string>("--out") { Description = "HTML report to write.", Required = true };
        var json = new Option<string?>("--json") { Description = "Also write the assessment as JSON to this file." };
        var levels = new Command("levels", "Place a model in the Levels-of-AGI matrix (performance × generality) from its task results; write an HTML report.")
            { results, references, output, json };
        levels.SetAction(r => Run(r.GetValue(results)!, r.GetValue(references), r.GetValue(output)!, r.GetValue(json)));
        return levels;
    }

    static int Run(string resultsPath, string? referencesPath, string outPath, string? jsonPath)
    {
        referencesPath ??= ReferenceTable.FindBuiltIn()
            ?? throw new UserInputException("eval levels: data/levels/references.json not found; pass --references FILE");
        var results = ResultsDocument.Load(resultsPath);
        var table = ReferenceTable.Load(referencesPath);
        var assessment = LevelsAssessment.Assess(results, table);
        LevelsReport.Write(assessment, outPath);
        if (jsonPath is not null) LevelsJson.Write(assessment, jsonPath);
        Console.WriteLine($"Level {(int)assessment.Level} ({LevelsOfAgi.Name(assessment.Level)}), {assessment.Generality.ToString().ToLowerInvariant()}: {assessment.Cell}");
        Console.WriteLine(assessment.Verdict);
        Console.WriteLine($"report: {outPath}{(jsonPath is null ? "" : $", assessment: {jsonPath}")}");
        return 0;
    }
}
