using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Approach 2 (IsoFLOP profiles) on synthetic runs whose minima are known.</summary>
public class IsoFlopFitTests
{
    static readonly double[] Budgets = [1e15, 1e16, 1e17, 1e18, 1e19];

    // Runs at N = N*·e^u for each offset u, D = C/(6N), loss from `loss`.
    static List<ScalingRun> Profiles(Func<double, double> optimalN, Func<double, double, double> loss, double[] offsets)
    {
        var runs = new List<ScalingRun>();
        foreach (double c in Budgets)
            foreach (double u in offsets)
            {
                double n = optimalN(c) * Math.Exp(u), d = c / (6 * n);
                runs.Add(ScalingRun.Create($"c{c:E0}u{u}", n, d, loss(n, d)));
            }
        return runs;
    }

    [Fact]
    public void Exact_parabolas_give_back_every_minimum_and_the_exponent()
    {
        // L = 2 + 0.05·(ln N − ln N*(C))², N*(C) = 0.1·C^0.47: each profile is a parabola in ln N, so the fit is exact.
        double NStar(double c) => 0.1 * Math.Pow(c, 0.47);
        var runs = Profiles(NStar, (n, d) => 2 + 0.05 * Math.Pow(Math.Log(n / NStar(6 * n * d)), 2), [-1.5, -0.7, 0, 0.4, 1.1, 2.0]);
        var fit = IsoFlopFit.Fit(runs);
        Assert.Equal(5, fit.Budgets.Count);
        Assert.Empty(fit.Skipped);
        foreach (var budget in fit.Budgets)
        {
            Assert.Equal(1, budget.OptimalParameters / NStar(budget.Compute), 1e-9);
            Assert.Equal(1, budget.OptimalTokens / (budget.Compute / (6 * NStar(budget.Compute))), 1e-9);
            Assert.Equal(2, budget.MinimumLoss, 1e-9);
            Assert.True(budget.Interior);
            Assert.Equal(6, budget.Runs.Count);
        }
        Assert.Equal(0.47, fit.Parameters.Exponent, 1e-9);
        Assert.Equal(1, fit.Parameters.Coefficient / 0.1, 1e-7);
        Assert.Equal(0.53, fit.Tokens.Exponent, 1e-9);   // D_opt = C/(6·N_opt) ∝ C^(1−a)
    }

    [Fact]
    public void Profiles_of_a_chinchilla_law_give_a_equal_to_beta_over_alpha_plus_beta()
    {
        // Along a budget, L(u) = E + K·(β·e^(−αu) + α·e^(βu)) in u = ln(N/N_opt) (the optimum's first-order condition
        // αA·N_opt^(−α) = βB·D_opt^(−β) makes the two terms' weights β and α): the same shape for every C up to scale and
        // offset, so a parabola through the same offsets u puts its vertex at the same u for every budget, and the
        // fitted slope of ln N_opt on ln C is exactly β/(α+β) although no profile is a parabola.
        var law = ScalingSynthetic.Truth;
        var runs = Profiles(law.OptimalParameters, law.Predict, [-1.2, -0.6, 0, 0.6, 1.2, 1.8]);
        var fit = IsoFlopFit.Fit(runs);
        Assert.Equal(law.ParametersExponent, fit.Parameters.Exponent, 1e-9);
        Assert.Equal(law.TokensExponent, fit.Tokens.Exponent, 1e-9);
        // The vertices themselves are off by that common offset, small where the valley is nearly parabolic.
        foreach (var budget in fit.Budgets) Assert.InRange(budget.OptimalParameters / law.OptimalParameters(budget.Compute), 0.9, 1.1);
    }

    [Fact]
    public void Runs_within_the_tolerance_share_a_budget()
    {
        var runs = new[] { 1.00e15, 1.04e15, 0.98e15, 1e16, 1.09e16, 1.2e16 }
            .Select((c, i) => ScalingRun.Create($"r{i}", 1e6 * (i + 1), 1e8, 3.0, compute: c)).ToList();
        var groups = IsoFlopFit.GroupByBudget(runs, 0.1);
        Assert.Equal([3, 2, 1], groups.Select(g => g.Count));
        Assert.Equal(0.98e15, groups[0][0].Compute);
        Assert.Equal(6, IsoFlopFit.GroupByBudget(runs, 0).Count);
    }

    [Fact]
    public void A_budget_of_two_sizes_is_skipped_with_the_reason()
    {
        double NStar(double c) => 0.1 * Math.Pow(c, 0.5);
        var runs = Profiles(NStar, (n, d) => 2 + 0.05 * Math.Pow(Math.Log(n / NStar(6 * n * d)), 2), [-1, 0, 1]);
        runs.Add(ScalingRun.Create("lonely1", 1e9, 1e12 / 6e9, 3));
        runs.Add(ScalingRun.Create("lonely2", 2e9, 1e12 / 12e9, 3));
        var fit = IsoFlopFit.Fit(runs);
        Assert.Equal(5, fit.Budgets.Count);
        Assert.Contains(fit.Skipped, s => s.Contains("2 distinct sizes"));
        Assert.Equal(0.5, fit.Parameters.Exponent, 1e-9);
    }

    [Fact]
    public void Too_few_usable_budgets_is_an_argument_error()
    {
        var runs = Enumerable.Range(0, 5).Select(i => ScalingRun.Create($"r{i}", 1e6 * (i + 1), 1e8, 3.0, compute: 1e15)).ToList();
        var e = Assert.Throws<ArgumentException>(() => IsoFlopFit.Fit(runs));
        Assert.Contains("at least two compute budgets", e.Message);
    }

    [Fact]
    public void The_parabola_fit_matches_a_hand_solved_case()
    {
        // Three points determine the parabola: y = 1 − 2x + 3x² through x = 10, 11, 13.
        double[] x = [10, 11, 13];
        var c = IsoFlopFit.FitParabola(x, x.Select(v => 1 - 2 * v + 3 * v * v).ToArray());
        Assert.Equal(1, c[0], 1e-8);
        Assert.Equal(-2, c[1], 1e-9);
        Assert.Equal(3, c[2], 1e-10);
    }
}
