using System.CommandLine;
using System.Globalization;
using Lathe.Evaluation.Scaling;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe eval scaling …`: scaling-law fits of finished runs. `eval scaling fit` fits a runs file both ways
/// (Hoffmann et al. 2022, Approaches 2 and 3), predicts held-out runs, and writes scaling.json and the SVG plots. The
/// library does the work (<see cref="ScalingAnalysis"/>, <see cref="ScalingReportJson"/>, <see cref="ScalingPlots"/>).</summary>
internal static class EvalScalingVerb
{
    /// <summary>The `scaling` command, registered under `eval`.</summary>
    internal static Command CreateScaling()
    {
        var scaling = new Command("scaling", "Scaling-law fits (Chinchilla Approaches 2 and 3) of finished pre-training runs.");
        var runs = new Option<string>("--runs") { Description = "Runs to fit: JSONL, one {\"name\", \"parameters\" (non-embedding), \"tokens\", \"compute\"?, \"loss\"} per line.", Required = true };
        var heldOut = new Option<string?>("--heldout") { Description = "Held-out runs (same format) to predict from the fit: predicted vs measured loss." };
        var output = new Option<string>("--out") { Description = "Folder for scaling.json and the SVG plots.", Required = true };
        var bootstrap = new Option<int>("--bootstrap") { Description = "Bootstrap resamples for confidence intervals (0: none). Each refits both laws.", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the bootstrap's resampling.", DefaultValueFactory = _ => 1 };
        var grid = new Option<string>("--grid") { Description = "Starting grid of the parametric fit: paper (4,500 starts, as Hoffmann et al.) or small (243).", DefaultValueFactory = _ => "paper" };
        var tolerance = new Option<double>("--budget-tolerance") { Description = "Runs whose compute is within this relative distance share an IsoFLOP budget.", DefaultValueFactory = _ => IsoFlopFit.DefaultBudgetTolerance };
        var confidence = new Option<double>("--confidence") { Description = "Coverage of the bootstrap intervals.", DefaultValueFactory = _ => 0.95 };
        var fit = new Command("fit", "Fit L(N, D) = E + A/N^alpha + B/D^beta and the IsoFLOP minima; write scaling.json and SVG plots.")
        {
            runs, heldOut, output, bootstrap, seed, grid, tolerance, confidence,
        };
        fit.SetAction(r => Fit(r.GetValue(runs)!, r.GetValue(heldOut), r.GetValue(output)!, r.GetValue(bootstrap), r.GetValue(seed),
            r.GetValue(grid)!, r.GetValue(tolerance), r.GetValue(confidence), r.InvocationConfiguration.Output));
        scaling.Subcommands.Add(fit);
        scaling.Subcommands.Add(CreatePlan());
        scaling.Subcommands.Add(EvalScalingSweep.Create());
        return scaling;
    }

    // `eval scaling plan`: sizes from presets, a measured speed and a wall-time budget → a sweep as JSON (not run).
    static Command CreatePlan()
    {
        var minutes = new Option<double>("--budget-minutes") { Description = "Wall time for the whole sweep, held-out run included.", Required = true };
        var speed = new Option<double>("--tokens-per-second") { Description = "Training tokens per second measured (e.g. from `pretrain`'s log) on --measured-on.", Required = true };
        var measuredOn = new Option<string>("--measured-on") { Description = "Preset or config.json the speed was measured on.", DefaultValueFactory = _ => "S" };
        var configs = new Option<string>("--configs") { Description = "Comma-separated presets or config.json paths: the model sizes (at least three).", DefaultValueFactory = _ => "gpt2-tiny,S,M" };
        var budgets = new Option<int>("--budgets") { Description = "Compute budgets (IsoFLOP profiles) to fit.", DefaultValueFactory = _ => 3 };
        var ratio = new Option<double>("--budget-ratio") { Description = "Compute of each budget over the previous one.", DefaultValueFactory = _ => 2 };
        var heldOutRatio = new Option<double>("--heldout-ratio") { Description = "Held-out run's compute over the largest fitted run's.", DefaultValueFactory = _ => 4 };
        var batch = new Option<int>("--batch-size") { Description = "pretrain --batch-size the runs will use.", DefaultValueFactory = _ => 8 };
        var block = new Option<int>("--block-size") { Description = "pretrain --block-size the runs will use.", DefaultValueFactory = _ => 128 };
        var threads = new Option<int>("--threads") { Description = "Threads the speed was measured with (recorded in the plan).", DefaultValueFactory = _ => 2 };
        var output = new Option<string>("--out") { Description = "Plan file to write (JSON).", Required = true };
        var plan = new Command("plan", "Plan a sweep of (N, D) runs that fits a wall-time budget, plus a held-out run at 4x the largest compute; runs nothing.")
        {
            minutes, speed, measuredOn, configs, budgets, ratio, heldOutRatio, batch, block, threads, output,
        };
        plan.SetAction(r => Plan(r.GetValue(minutes), r.GetValue(speed), r.GetValue(measuredOn)!, r.GetValue(configs)!, r.GetValue(budgets),
            r.GetValue(ratio), r.GetValue(heldOutRatio), r.GetValue(batch), r.GetValue(block), r.GetValue(threads), r.GetValue(output)!, r.InvocationConfiguration.Output));
        return plan;
    }

    static int Plan(double minutes, double speed, string measuredOn, string configs, int budgets, double ratio, double heldOutRatio,
        int batch, int block, int threads, string output, TextWriter stdout)
    {
        if (batch < 1 || block < 1) throw new UserInputException($"eval scaling plan: --batch-size {batch} and --block-size {block} must be positive");
        PlanModel Model(string name, string option)
        {
            try { return PlanModel.From(name); }
            catch (ArgumentException e) { throw new UserInputException($"eval scaling plan: {option} {name}: {e.Message}"); }
        }
        var models = configs.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => Model(c, "--configs")).ToList();
        ScalingPlan result;
        try
        {
            result = ScalingPlan.Make(new ScalingPlanRequest(models, speed, Model(measuredOn, "--measured-on"), minutes, budgets, ratio, heldOutRatio, batch * block, threads));
        }
        catch (ArgumentException e) { throw new UserInputException($"eval scaling plan: {e.Message}"); }
        result.Write(output);
        var inv = CultureInfo.InvariantCulture;
        foreach (var run in result.Runs.Append(result.HeldOut))
            stdout.WriteLine(string.Create(inv, $"{run.Name,-24} N = {run.Parameters,10:N0}  D = {run.Tokens,14:N0}  C = {run.Compute:E2}  {run.Steps,7} steps  {run.Minutes,7:F1} min"));
        foreach (string warning in result.Warnings) stdout.WriteLine("warning: " + warning);
        stdout.WriteLine(string.Create(inv, $"fitted runs {result.FittedMinutes:F1} min + held-out {result.HeldOut.Minutes:F1} min = {result.TotalMinutes:F1} of {minutes:F1} min; held-out compute {result.HeldOut.Compute / result.Runs.Max(r => r.Compute):F2}x the largest fitted; wrote {output}"));
        return 0;
    }

    static int Fit(string runsPath, string? heldOutPath, string folder, int resamples, int seed, string gridName, double tolerance, double confidence, TextWriter stdout)
    {
        if (resamples < 0) throw new UserInputException($"eval scaling fit: --bootstrap {resamples} must not be negative");
        if (!(tolerance >= 0)) throw new UserInputException($"eval scaling fit: --budget-tolerance {tolerance} must not be negative");
        if (!(confidence > 0 && confidence < 1)) throw new UserInputException($"eval scaling fit: --confidence {confidence} must be between 0 and 1");
        var grid = gridName.ToLowerInvariant() switch
        {
            "paper" => ChinchillaGrid.Paper,
            "small" => ChinchillaGrid.Small,
            _ => throw new UserInputException($"eval scaling fit: --grid '{gridName}' is not one of paper, small"),
        };
        var fitted = ScalingRunsFile.Read(runsPath);
        var held = heldOutPath is null ? [] : ScalingRunsFile.Read(heldOutPath);
        var options = new ScalingAnalysisOptions
        {
            Fit = new ChinchillaFitOptions { Grid = grid }, BootstrapResamples = resamples, Seed = seed, Confidence = confidence, BudgetTolerance = tolerance,
        };
        ScalingAnalysis analysis;
        try { analysis = ScalingAnalysis.Run(fitted, held, options); }
        catch (ArgumentException e) { throw new UserInputException($"eval scaling fit: {runsPath}: {e.Message}"); }
        Directory.CreateDirectory(folder);
        string json = Path.Combine(folder, "scaling.json");
        ScalingReportJson.Write(json, analysis);
        var plots = ScalingPlots.WriteAll(folder, analysis);
        foreach (string line in Summary(analysis)) stdout.WriteLine(line);
        stdout.WriteLine($"wrote {string.Join(", ", new[] { json }.Concat(plots))}");
        return 0;
    }

    static IEnumerable<string> Summary(ScalingAnalysis analysis)
    {
        var inv = CultureInfo.InvariantCulture;
        var law = analysis.Parametric.Law;
        var ci = analysis.ParametricIntervals;
        string I(ConfidenceInterval? c, string format) => c is null ? "" : string.Create(inv, $" [{c.Low.ToString(format, inv)}, {c.High.ToString(format, inv)}]");
        yield return string.Create(inv, $"parametric fit (Approach 3) of {analysis.Runs.Count} runs: E = {law.E:F3}{I(ci?.E, "F3")}, A = {law.A:G4}{I(ci?.A, "G4")}, B = {law.B:G4}{I(ci?.B, "G4")}, alpha = {law.Alpha:F3}{I(ci?.Alpha, "F3")}, beta = {law.Beta:F3}{I(ci?.Beta, "F3")}");
        yield return string.Create(inv, $"compute-optimal: N_opt ~ C^{law.ParametersExponent:F3}{I(ci?.ParametersExponent, "F3")}, D_opt ~ C^{law.TokensExponent:F3}{I(ci?.TokensExponent, "F3")} (Chinchilla Approach 3: {ChinchillaPublished.Approach3A:F2}, {ChinchillaPublished.Approach3B:F2})");
        if (analysis.IsoFlop is { } iso)
        {
            var ici = analysis.IsoFlopIntervals;
            yield return string.Create(inv, $"IsoFLOP (Approach 2) over {iso.Budgets.Count} budgets: a = {iso.Parameters.Exponent:F3}{I(ici?.ParametersExponent, "F3")}, b = {iso.Tokens.Exponent:F3}{I(ici?.TokensExponent, "F3")} (Chinchilla Approach 2: {ChinchillaPublished.Approach2A:F2}, {ChinchillaPublished.Approach2B:F2})");
        }
        else yield return $"IsoFLOP (Approach 2): not fitted: {analysis.IsoFlopError}";
        foreach (var p in analysis.Predictions)
            yield return string.Create(inv, $"held out {p.Run.Name}: measured {p.Run.Loss:F4}, predicted {p.Predicted:F4}{I(p.Interval, "F4")} ({p.ErrorPercent:+0.00;-0.00}%) at {p.ComputeRatio:G3}x the largest fitted compute");
    }
}
