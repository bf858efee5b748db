using System.CommandLine;
using Lathe.Evaluation.Levels;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval levels --results results.json | --model DIR|FILE.gguf [--tasks …] [--references FILE] --out
/// report.html [--json levels.json]`: places the model a results document describes (or that it scores first, on the
/// built-in tasks unless --tasks says otherwise) in the Levels-of-AGI matrix (Morris et al. 2023) and writes the HTML
/// report (and the assessment as JSON). Prints the cell and the verdict. A bad results or reference file is exit 2 with
/// one line naming the file and the field.</summary>
internal static class EvalLevelsVerb
{
    internal static Command CreateLevels()
    {
        var results = new Option<string?>("--results") { Description = "Results document written by `lathe eval tasks --output` (or give --model)." };
        var model = new Option<string?>("--model") { Description = "Score this model on the tasks first (checkpoint folder, Hugging Face folder or .gguf); its results document is written beside the report." };
        var tasks = new Option<string?>("--tasks") { Description = "With --model: comma-separated tasks (default: every built-in task)." };
        var shots = new Option<int>("--shots") { Description = "With --model: few-shot examples per document.", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "With --model: compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var references = new Option<string?>("--references") { Description = "Human reference table (default: data/levels/references.json of the repository)." };
        var output = new Option<string>("--out") { Description = "HTML report to write.", Required = true };
        var json = new Option<string?>("--json") { Description = "Also write the assessment as JSON to this file." };
        var levels = new Command("levels", "Place a model in the Levels-of-AGI matrix (performance × generality) from its task results; write an HTML report.")
            { results, model, tasks, shots, threads, references, output, json };
        levels.SetAction(r =>
        {
            string? resultsPath = r.GetValue(results), modelPath = r.GetValue(model);
            if ((resultsPath is null) == (modelPath is null)) throw new UserInputException("eval levels: give either --results FILE or --model DIR|FILE.gguf");
            string outPath = r.GetValue(output)!;
            if (modelPath is not null)
            {
                // The suite first: its results document goes beside the report, so the evidence can be rechecked.
                var (bytes, _) = EvalTasksVerb.Evaluate(modelPath, r.GetValue(tasks), new Lathe.Evaluation.Tasks.TaskRunOptions { Shots = r.GetValue(shots) },
                    r.GetValue(threads), null, "eval levels");
                resultsPath = Path.ChangeExtension(outPath, ".results.json");
                Lathe.IO.AtomicFile.WriteAllBytes(resultsPath, bytes);
                Console.Error.WriteLine($"eval levels: task results in {resultsPath}");
            }
            return Run(resultsPath!, r.GetValue(references), outPath, r.GetValue(json));
        });
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
