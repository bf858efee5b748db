using System.Text.Json;
using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Sweep plans: within the budget, the held-out run ≥ 4× the largest fitted compute, and fit-able as IsoFLOP
/// profiles.</summary>
public class ScalingPlanTests
{
    static readonly PlanModel[] Sizes = [PlanModel.From("gpt2-tiny"), PlanModel.From("S"), PlanModel.From("M")];

    static ScalingPlan Plan(double minutes = 60, double tokensPerSecond = 20_000) =>
        ScalingPlan.Make(new ScalingPlanRequest(Sizes, tokensPerSecond, Sizes[1], minutes, Budgets: 3, BudgetRatio: 2, TokensPerStep: 8 * 128));

    [Fact]
    public void The_plan_fills_the_budget_without_exceeding_it()
    {
        var plan = Plan();
        Assert.InRange(plan.TotalMinutes, 0.97 * 60, 60);
        Assert.Equal(9, plan.Runs.Count);
        Assert.All(plan.Runs.Append(plan.HeldOut), r => Assert.Equal(r.Steps * 8 * 128, r.Tokens));
    }

    [Fact]
    public void The_held_out_run_has_at_least_four_times_the_largest_fitted_compute()
    {
        var plan = Plan();
        Assert.True(plan.HeldOut.Compute >= 4 * plan.Runs.Max(r => r.Compute), $"{plan.HeldOut.Compute / plan.Runs.Max(r => r.Compute)}");
    }

    [Fact]
    public void Time_follows_the_measured_speed()
    {
        // A run of the measured model takes tokens / (tokens per second); another size in proportion to N + V·C.
        var plan = Plan();
        var s = plan.Runs.First(r => r.Config == "S");
        Assert.Equal(s.Tokens / 20_000 / 60, s.Minutes, 1e-9);
        var m = plan.Runs.First(r => r.Config == "M");
        Assert.Equal(m.Tokens / 20_000 / 60 * (Sizes[2].Parameters + Sizes[2].OutputHead) / (Sizes[1].Parameters + Sizes[1].OutputHead), m.Minutes, 1e-9);
    }

    [Fact]
    public void Planned_runs_form_the_IsoFlop_profiles_the_fit_needs()
    {
        var plan = Plan(minutes: 240);
        var law = ScalingSynthetic.Truth;
        var runs = plan.Runs.Select(r => ScalingRun.Create(r.Name, r.Parameters, r.Tokens, law.Predict(r.Parameters, r.Tokens))).ToList();
        var groups = IsoFlopFit.GroupByBudget(runs, IsoFlopFit.DefaultBudgetTolerance);
        Assert.Equal([3, 3, 3], groups.Select(g => g.Count));
    }

    [Fact]
    public void The_plan_file_holds_every_run_and_the_held_out_one()
    {
        var plan = Plan();
        string path = Path.Combine(Path.GetTempPath(), "lathe-plan-" + Guid.NewGuid().ToString("N") + ".json");
        try
        {
            plan.Write(path);
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            Assert.Equal(9, doc.RootElement.GetProperty("runs").GetArrayLength());
            Assert.True(doc.RootElement.GetProperty("held_out_ratio").GetDouble() >= 4);
            Assert.Equal(plan.HeldOut.Steps, doc.RootElement.GetProperty("held_out").GetProperty("steps").GetInt64());
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Budgets_whose_sizes_are_all_under_trained_are_flagged()
    {
        // 30 minutes at 15k tokens/s buys ~27M tokens: the 10.6M-parameter M gets under 1 token per parameter, and every
        // size of the smallest budget has fewer than 20.
        var plan = ScalingPlan.Make(new ScalingPlanRequest(Sizes, 15_000, Sizes[1], 30, TokensPerStep: 1024));
        Assert.Contains(plan.Warnings, w => w.StartsWith("budget 0 ") && w.Contains("fewer than ~20 tokens per parameter"));
        // A budget large enough that the smallest model passes 20 tokens per parameter while M stays below: no warning.
        var big = ScalingPlan.Make(new ScalingPlanRequest(Sizes, 15_000, Sizes[1], 3000, TokensPerStep: 1024));
        Assert.Empty(big.Warnings);
    }

    [Fact]
    public void Fewer_than_three_sizes_is_an_argument_error()
    {
        var e = Assert.Throws<ArgumentException>(() => ScalingPlan.Make(new ScalingPlanRequest([Sizes[0], Sizes[1], Sizes[1]], 1000, Sizes[0], 10)));
        Assert.Contains("three distinct model sizes", e.Message);
    }
}
