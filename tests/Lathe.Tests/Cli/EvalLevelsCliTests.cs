using System.CommandLine;
using System.Text.Json;
using Lathe.Cli;
using Lathe.Cli.Verbs;
using Lathe.Tests.Data;
using Lathe.Tests.Evaluation.Levels;

namespace Lathe.Tests.Cli;

/// <summary>`lathe eval levels` in process: the verb (EvalLevelsVerb.CreateLevels) under a root as Program.cs builds it,
/// run through CliRunner for its exit codes. A results document → the HTML report and levels.json, the cell and the
/// verdict printed; a bad results file, a missing one, or a bad reference table → exit 2 with one line naming the file
/// and the field, and no report written.</summary>
[Collection(nameof(ConsoleCapture))]
public class EvalLevelsCliTests
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe") { new Command("eval") { EvalLevelsVerb.CreateLevels() } };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["eval", "levels", .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    [Fact]
    public void Results_become_a_report_and_a_json_assessment()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("results.json"), LevelsFixtures.ResultsJson("runs/demo",
            LevelsFixtures.Suite(capital: 0.26, currency: 0.24, language: 0.25, element: 0.27, wordnet: 0.25, lambada: 0, bpb: 2.3, arithmetic: 0, spam: 0.6)));
        var (code, stdout, stderr) = Run("--results", dir.File("results.json"), "--out", dir.File("report.html"), "--json", dir.File("levels.json"));
        Assert.True(code == 0, stderr);
        Assert.StartsWith("Level 0 (No AI), narrow: Narrow Non-AI", stdout);
        Assert.Contains("report: " + dir.File("report.html"), stdout);
        Assert.Contains("<svg id=\"levels-matrix\"", File.ReadAllText(dir.File("report.html")));
        using var json = JsonDocument.Parse(File.ReadAllText(dir.File("levels.json")));
        Assert.Equal(("Narrow Non-AI", dir.File("results.json"), LevelsFixtures.BuiltInPath),
            (json.RootElement.GetProperty("cell").GetString(), json.RootElement.GetProperty("results").GetString(), json.RootElement.GetProperty("references").GetString()));
        Assert.Empty(Directory.GetFiles(dir.Path, ".*.tmp"));   // atomic writes leave no temporary behind
    }

    [Fact]
    public void A_bad_results_file_is_exit_2_naming_the_file_and_field()
    {
        using var dir = new TempDir();
        string results = dir.File("results.json");
        File.WriteAllText(results, """{"lathe_eval": 1, "tasks": {"spam_ham": {"output_type": "multiple_choice", "metrics": {"acc": {"value": "high"}}}}}""");
        var (code, _, stderr) = Run("--results", results, "--out", dir.File("report.html"));
        Assert.Equal(2, code);
        Assert.Equal($"lathe: {results}: tasks.spam_ham.metrics.acc.value: expected a number, got \"high\"", stderr.Trim());
        Assert.False(File.Exists(dir.File("report.html")));

        (code, _, stderr) = Run("--results", dir.File("absent.json"), "--out", dir.File("report.html"));
        Assert.Equal((2, $"lathe: {dir.File("absent.json")}: results file not found"), (code, stderr.Trim()));

        File.WriteAllText(results, "not json");
        (code, _, stderr) = Run("--results", results, "--out", dir.File("report.html"));
        Assert.Equal(2, code);
        Assert.StartsWith($"lathe: {results}: line 1: not valid JSON", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void A_bad_reference_table_is_exit_2_and_missing_options_are_named()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("results.json"), LevelsFixtures.ResultsJson("m", new LevelsFixtures.Row("spam_ham", "acc", 0.6, 0.01, 0.5)));
        File.WriteAllText(dir.File("refs.json"), """{"lathe_levels_references": 1, "families": {}, "tasks": {"t": {"family": "x"}}}""");
        var (code, _, stderr) = Run("--results", dir.File("results.json"), "--references", dir.File("refs.json"), "--out", dir.File("report.html"));
        Assert.Equal((2, $"lathe: {dir.File("refs.json")}: tasks.t.family: \"x\" is not one of the families ()"), (code, stderr.Trim()));

        (code, _, stderr) = Run("--results", dir.File("results.json"));
        Assert.Equal(2, code);
        Assert.Contains("--out", stderr);
    }
}

/// <summary>Redirects Console.Out and Console.Error for one in-process CLI run. Tests that use it share a collection,
/// so no two redirect the process-wide console at once.</summary>
[CollectionDefinition(nameof(ConsoleCapture), DisableParallelization = true)]
public sealed class ConsoleCapture : IDisposable
{
    readonly TextWriter _out = Console.Out, _err = Console.Error;
    readonly StringWriter _stdout = new(), _stderr = new();

    public ConsoleCapture()
    {
        Console.SetOut(_stdout);
        Console.SetError(_stderr);
    }

    public string Stdout => _stdout.ToString();
    public string Stderr => _stderr.ToString();

    public void Dispose()
    {
        Console.SetOut(_out);
        Console.SetError(_err);
    }
}

/// <summary>`lathe eval report` in process: a run folder → DIR/report.html by default, the parts listed on stdout; a
/// bad metrics line → exit 2 naming the file and line.</summary>
[Collection(nameof(ConsoleCapture))]
public class EvalReportCliTests
{
    static (int Code, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new Command("lathe") { new Command("eval") { EvalReportVerb.CreateReport() } };
        using var capture = new ConsoleCapture();
        int code = CliRunner.Run(root, ["eval", "report", .. args]);
        return (code, capture.Stdout, capture.Stderr);
    }

    [Fact]
    public void A_run_folder_becomes_its_report()
    {
        using var dir = new TempDir();
        string run = dir.File("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "metrics.jsonl"), "{\"step\":1,\"loss\":5.5,\"lr\":0.001,\"grad_norm\":1.2,\"tokens\":4096}\n{\"step\":2,\"loss\":5.0,\"lr\":0.001,\"grad_norm\":1.1,\"tokens\":8192,\"val_loss\":5.1}\n");
        File.WriteAllText(Path.Combine(run, "results.json"), LevelsFixtures.ResultsJson("runs/demo", new LevelsFixtures.Row("spam_ham", "acc", 0.5, 0.02, 0.5)));
        var (code, stdout, stderr) = Run("--run", run);
        Assert.True(code == 0, stderr);
        Assert.Equal($"report: {Path.Combine(run, "report.html")} — loss curves (2 steps), 1 tasks, levels: Narrow Non-AI", stdout.Trim());
        Assert.Contains("<svg id=\"levels-matrix\"", File.ReadAllText(Path.Combine(run, "report.html")));

        File.AppendAllText(Path.Combine(run, "metrics.jsonl"), "{\"step\":3,\"loss\":\"low\"}\n");
        (code, _, stderr) = Run("--run", run, "--out", dir.File("other.html"));
        Assert.Equal((2, $"lathe: {Path.Combine(run, "metrics.jsonl")}: line 3: loss: expected a number"), (code, stderr.Trim()));
        Assert.False(File.Exists(dir.File("other.html")));
    }
}
