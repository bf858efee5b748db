using System.CommandLine;
using System.Reflection;
using System.Text.Json;
using System.Xml.Linq;
using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

[CollectionDefinition(nameof(ScalingCliConsoleCollection), DisableParallelization = true)]
public class ScalingCliConsoleCollection;

/// <summary>`lathe eval scaling fit` as a user runs it, in-process: the verb's command under a root `eval`, through the
/// CLI's own runner (exit codes and one-line errors). The verb is internal to Lathe.Cli and not yet registered in the
/// shipped command tree, so it is reached by name; the console is redirected, hence no parallel neighbours.</summary>
[Collection(nameof(ScalingCliConsoleCollection))]
public class EvalScalingCliTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), "lathe-scaling-" + Guid.NewGuid().ToString("N"));

    public EvalScalingCliTests() => Directory.CreateDirectory(folder);
    public void Dispose() => Directory.Delete(folder, true);

    string PathOf(string name) => Path.Combine(folder, name);

    static (int Code, string Stdout, string Stderr) Lathe(params string[] args)
    {
        var cli = typeof(global::Lathe.Cli.UserInputException).Assembly;
        var scaling = (Command)cli.GetType("Lathe.Cli.Verbs.EvalScalingVerb")!
            .GetMethod("CreateScaling", BindingFlags.Static | BindingFlags.NonPublic)!.Invoke(null, null)!;
        var eval = new Command("eval") { scaling };
        var root = new RootCommand("lathe") { eval };
        var run = cli.GetType("Lathe.Cli.CliRunner")!.GetMethod("Run", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!;
        TextWriter oldOut = Console.Out, oldError = Console.Error;
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return ((int)run.Invoke(null, [root, args])!, stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldError); }
    }

    [Fact]
    public void Fit_writes_both_fits_the_predictions_and_three_plots()
    {
        var truth = ScalingSynthetic.Truth;
        // A 6×6 grid with 0.5% noise to fit, and IsoFLOP profiles at three budgets so Approach 2 has its valleys.
        var runs = ScalingSynthetic.Grid(truth, 0.005, seed: 21, sizes: 6);
        foreach (double c in new[] { 1e15, 1e16, 1e17 })
            foreach (double u in new[] { -1.0, -0.5, 0, 0.5, 1.0 })
            {
                double n = truth.OptimalParameters(c) * Math.Exp(u);
                runs.Add(ScalingRun.Create($"iso{c:E0}{u}", n, c / (6 * n), truth.Predict(n, c / (6 * n))));
            }
        ScalingRunsFile.Write(PathOf("runs.jsonl"), runs);
        double bigC = 4 * runs.Max(r => r.Compute);
        double bigN = truth.OptimalParameters(bigC), bigD = bigC / (6 * bigN);
        ScalingRunsFile.Write(PathOf("held.jsonl"), [ScalingRun.Create("big", bigN, bigD, truth.Predict(bigN, bigD))]);

        var (code, stdout, stderr) = Lathe("eval", "scaling", "fit", "--runs", PathOf("runs.jsonl"), "--heldout", PathOf("held.jsonl"),
            "--out", PathOf("out"), "--bootstrap", "8", "--seed", "1", "--grid", "small");
        Assert.True(code == 0, stderr);
        Assert.Contains("parametric fit (Approach 3) of 51 runs", stdout);
        // The grid's runs of equal i + j share a compute (N and D take the same log steps), so they form profiles too.
        Assert.Contains("IsoFLOP (Approach 2) over 9 budgets", stdout);
        Assert.Contains("held out big: measured", stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("out/scaling.json")));
        var root = doc.RootElement;
        Assert.Equal(1, root.GetProperty("lathe_scaling").GetInt32());
        var parametric = root.GetProperty("parametric");
        // 0.5% noise on 51 runs: the exponents within a few hundredths (4 SE, as ChinchillaFitTests derives, is ~0.02).
        Assert.Equal(truth.Alpha, parametric.GetProperty("alpha").GetDouble(), 0.05);
        Assert.Equal(truth.Beta, parametric.GetProperty("beta").GetDouble(), 0.05);
        Assert.Equal(8, parametric.GetProperty("intervals").GetProperty("resamples").GetInt32());
        Assert.Equal(2, parametric.GetProperty("intervals").GetProperty("alpha").GetArrayLength());
        Assert.Equal(9, root.GetProperty("isoflop").GetProperty("budgets").GetArrayLength());
        Assert.Equal(truth.ParametersExponent, root.GetProperty("isoflop").GetProperty("a").GetDouble(), 0.05);
        var chinchilla = root.GetProperty("compute_optimal").GetProperty("chinchilla");
        Assert.Equal(0.46, chinchilla.GetProperty("approach3").GetProperty("a").GetDouble());
        Assert.Equal(0.49, chinchilla.GetProperty("approach2").GetProperty("a").GetDouble());
        var held = root.GetProperty("held_out")[0];
        Assert.Equal(4, held.GetProperty("compute_ratio").GetDouble(), 1e-9);
        // Prediction of an exact run, 4× beyond the largest fitted, from a fit to 0.5%-noisy runs: within 2% (the goal).
        Assert.InRange(Math.Abs(held.GetProperty("error_percent").GetDouble()), 0, 2);

        foreach (string svg in new[] { ScalingPlots.LossVsComputeFile, ScalingPlots.IsoFlopFile, ScalingPlots.PredictedVsMeasuredFile })
        {
            var x = XDocument.Load(PathOf("out/" + svg));   // well-formed XML
            Assert.Equal("svg", x.Root!.Name.LocalName);
            // Beside it the same chart as a PNG.
            var (w, h, _, _) = Browser.PngPixels.Read(PathOf("out/" + Path.ChangeExtension(svg, ".png")));
            Assert.Equal((1520, 1000), (w, h));
        }
    }

    [Fact]
    public void A_bad_runs_file_exits_2_naming_the_file_line_and_field()
    {
        File.WriteAllText(PathOf("runs.jsonl"),
            "{\"name\":\"a\",\"parameters\":1e6,\"tokens\":1e8,\"loss\":4.2}\n{\"name\":\"b\",\"parameters\":2e6,\"tokens\":1e8}\n");
        var (code, _, stderr) = Lathe("eval", "scaling", "fit", "--runs", PathOf("runs.jsonl"), "--out", PathOf("out"));
        Assert.Equal(2, code);
        Assert.Equal($"lathe: {PathOf("runs.jsonl")}:2: field \"loss\" is missing", stderr.Trim());
        Assert.DoesNotContain("   at ", stderr);
        Assert.False(Directory.Exists(PathOf("out")));
    }

    [Fact]
    public void Too_few_runs_and_a_bad_grid_exit_2_with_one_line()
    {
        ScalingRunsFile.Write(PathOf("runs.jsonl"), ScalingSynthetic.Grid(ScalingSynthetic.Truth, 0, 1, sizes: 2));
        var (code, _, stderr) = Lathe("eval", "scaling", "fit", "--runs", PathOf("runs.jsonl"), "--out", PathOf("out"));
        Assert.Equal(2, code);
        Assert.Contains("runs.jsonl: the parametric fit has 5 parameters and needs at least 5 runs; got 4", stderr);
        (code, _, stderr) = Lathe("eval", "scaling", "fit", "--runs", PathOf("runs.jsonl"), "--out", PathOf("out"), "--grid", "huge");
        Assert.Equal(2, code);
        Assert.Contains("--grid 'huge' is not one of paper, small", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Plan_writes_a_sweep_within_the_budget()
    {
        var (code, stdout, stderr) = Lathe("eval", "scaling", "plan", "--budget-minutes", "30", "--tokens-per-second", "15000",
            "--threads", "2", "--out", PathOf("plan.json"));
        Assert.True(code == 0, stderr);
        Assert.Contains("heldout-", stdout);
        using var doc = JsonDocument.Parse(File.ReadAllText(PathOf("plan.json")));
        Assert.InRange(doc.RootElement.GetProperty("total_minutes").GetDouble(), 0, 30);
        Assert.True(doc.RootElement.GetProperty("held_out_ratio").GetDouble() >= 4);
        (code, _, stderr) = Lathe("eval", "scaling", "plan", "--budget-minutes", "30", "--tokens-per-second", "15000", "--configs", "S,M", "--out", PathOf("p2.json"));
        Assert.Equal(2, code);
        Assert.Contains("at least three distinct model sizes", stderr);
    }
}
