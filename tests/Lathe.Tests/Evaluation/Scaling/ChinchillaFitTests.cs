using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Approach 3 (the parametric fit): its objective's gradient against finite differences, recovery of known
/// constants from synthetic losses with and without noise, and the compute-optimal frontier against a direct search.</summary>
public class ChinchillaFitTests
{
    static readonly ChinchillaLaw Truth = ScalingSynthetic.Truth;

    [Theory]
    [InlineData(5.7, 6.0, 0.59, 0.32, 0.29)]     // near the truth: residuals inside and outside δ
    [InlineData(0.0, 0.0, -1.0, 0.0, 0.0)]       // a grid corner
    [InlineData(25.0, 10.0, 1.0, 2.0, 0.5)]      // far out, one term dominating the LSE
    [InlineData(3.1, 9.7, 0.2, 0.11, 0.73)]
    public void The_analytic_gradient_matches_central_differences(double a, double b, double e, double alpha, double beta)
    {
        var runs = ScalingSynthetic.Grid(Truth, noise: 0.01, seed: 3, sizes: 5);
        var objective = new ChinchillaObjective(runs);
        double[] theta = [a, b, e, alpha, beta];
        var gradient = new double[5];
        objective.Evaluate(theta, gradient);
        for (int k = 0; k < 5; k++)
        {
            // h = 1e-6 balances truncation (the Huber objective is C¹ with a jump in f'' at |r| = δ, so O(h) error near a
            // kink) against rounding (ε·f/h ≈ 1e-10·f).
            const double h = 1e-6;
            double[] plus = (double[])theta.Clone(), minus = (double[])theta.Clone();
            plus[k] += h; minus[k] -= h;
            double numeric = (objective.Value(plus) - objective.Value(minus)) / (2 * h);
            double scale = Math.Max(Math.Abs(numeric), 1e-3 * runs.Count * 1e-3);
            Assert.True(Math.Abs(gradient[k] - numeric) <= 1e-6 * scale + 1e-9,
                $"∂/∂θ[{k}]: analytic {gradient[k]:R}, finite difference {numeric:R}");
        }
    }

    [Fact]
    public void Huber_is_quadratic_inside_delta_and_linear_beyond()
    {
        Assert.Equal(0.5 * 0.0004 * 0.0004, ChinchillaObjective.Huber(0.0004, 1e-3), 1e-20);
        Assert.Equal(1e-3 * (0.5 - 0.5e-3), ChinchillaObjective.Huber(-0.5, 1e-3), 1e-15);
        Assert.Equal(-1e-3, ChinchillaObjective.HuberDerivative(-0.5, 1e-3));
        Assert.Equal(0.0002, ChinchillaObjective.HuberDerivative(0.0002, 1e-3));
    }

    [Fact]
    public void Noise_free_losses_give_back_the_constants_near_exactly()
    {
        var runs = ScalingSynthetic.Grid(Truth, noise: 0, seed: 1);
        var fit = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        var law = fit.Law;
        // Exact data put the truth at objective 0; every residual is then inside δ where the objective is least squares,
        // and L-BFGS to a gradient of 1e-12 pins the parameters to ~1e-7 relative or better.
        Assert.Equal(Truth.E, law.E, 1e-6);
        Assert.Equal(1, law.A / Truth.A, 1e-6);
        Assert.Equal(1, law.B / Truth.B, 1e-6);
        Assert.Equal(Truth.Alpha, law.Alpha, 1e-7);
        Assert.Equal(Truth.Beta, law.Beta, 1e-7);
        Assert.True(fit.Objective < 1e-20, $"objective {fit.Objective}");
        Assert.Equal(243, fit.Starts);
    }

    [Fact]
    public void The_papers_full_grid_also_recovers_noise_free_constants()
    {
        var runs = ScalingSynthetic.Grid(Truth, noise: 0, seed: 1, sizes: 5);
        var fit = ChinchillaFit.Fit(runs);
        Assert.Equal(4500, fit.Starts);
        Assert.Equal(Truth.Alpha, fit.Law.Alpha, 1e-7);
        Assert.Equal(Truth.Beta, fit.Law.Beta, 1e-7);
        Assert.Equal(Truth.E, fit.Law.E, 1e-6);
    }

    [Fact]
    public void Noisy_losses_give_back_the_constants_within_four_standard_errors()
    {
        const double sigma = 0.01;   // 1% multiplicative noise on each loss
        var runs = ScalingSynthetic.Grid(Truth, sigma, seed: 11);
        var fit = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        double[] se = StandardErrors(runs, Truth, sigma);
        double[] truth = Truth.ToTheta(), got = fit.Theta;
        string[] names = ["log A", "log B", "log E", "alpha", "beta"];
        for (int k = 0; k < 5; k++)
            Assert.True(Math.Abs(got[k] - truth[k]) <= 4 * se[k],
                $"{names[k]}: fitted {got[k]:F5}, true {truth[k]:F5}, 4 SE = {4 * se[k]:F5}");
        // The exponent that matters most downstream, a = β/(α+β), by the delta method from the same covariance is
        // looser than α and β alone; check it against their combined bound.
        Assert.True(Math.Abs(fit.Law.ParametersExponent - Truth.ParametersExponent) <= 4 * (se[3] + se[4]) / (Truth.Alpha + Truth.Beta));
    }

    // The tolerance, derived from the noise rather than tuned: an M-estimator's asymptotic covariance is
    // E[ψ²]/E[ψ']²·(JᵀJ)⁻¹ (Huber 1964), J the Jacobian of log L̂ with respect to θ at the truth. For normal noise of
    // s.d. σ the factor E[ψ²]/E[ψ']² lies between σ² (δ → ∞, least squares) and (π/2)σ² (δ → 0, the median); δ = 10⁻³
    // is a tenth of σ, so the median's bound is used. J is written from the law directly, not from the fit's LSE code.
    static double[] StandardErrors(IReadOnlyList<ScalingRun> runs, ChinchillaLaw law, double sigma)
    {
        var jtj = new double[5, 5];
        foreach (var run in runs)
        {
            double termN = law.A / Math.Pow(run.Parameters, law.Alpha), termD = law.B / Math.Pow(run.Tokens, law.Beta);
            double l = law.E + termN + termD;
            double[] j = [termN / l, termD / l, law.E / l, -Math.Log(run.Parameters) * termN / l, -Math.Log(run.Tokens) * termD / l];
            for (int p = 0; p < 5; p++) for (int q = 0; q < 5; q++) jtj[p, q] += j[p] * j[q];
        }
        var se = new double[5];
        for (int k = 0; k < 5; k++)
        {
            var unit = new double[5];
            unit[k] = 1;
            double inverseDiagonal = LbfgsTests.Solve(jtj, unit)[k];
            se[k] = sigma * Math.Sqrt(Math.PI / 2 * inverseDiagonal);
        }
        return se;
    }

    [Fact]
    public void The_frontier_is_the_minimum_of_the_law_along_each_compute_budget()
    {
        foreach (double compute in new[] { 1e15, 1e18, 1e21 })
        {
            // Golden-section search for the N minimising L(N, C/(6N)) — the closed form's independent twin.
            double lo = Math.Log(1e2), hi = Math.Log(1e14);
            double Loss(double logN) => Truth.Predict(Math.Exp(logN), compute / (6 * Math.Exp(logN)));
            double ratio = (Math.Sqrt(5) - 1) / 2;
            for (int i = 0; i < 200; i++)
            {
                double x1 = hi - ratio * (hi - lo), x2 = lo + ratio * (hi - lo);
                if (Loss(x1) < Loss(x2)) hi = x2; else lo = x1;
            }
            double nOpt = Math.Exp((lo + hi) / 2);
            Assert.Equal(1, Truth.OptimalParameters(compute) / nOpt, 1e-6);
            Assert.Equal(compute, 6 * Truth.OptimalParameters(compute) * Truth.OptimalTokens(compute), compute * 1e-12);
            Assert.Equal(Loss(Math.Log(nOpt)), Truth.FrontierLoss(compute), 1e-12);
        }
        Assert.Equal(0.29 / 0.61, Truth.ParametersExponent, 1e-15);
        Assert.Equal(0.32 / 0.61, Truth.TokensExponent, 1e-15);
    }

    [Fact]
    public void The_same_runs_give_the_same_fit_bit_for_bit()
    {
        var runs = ScalingSynthetic.Grid(Truth, 0.01, seed: 5, sizes: 4);
        var a = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        var b = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        Assert.Equal(a.Theta, b.Theta);
    }

    [Fact]
    public void Fewer_runs_than_parameters_is_an_argument_error()
    {
        var runs = ScalingSynthetic.Grid(Truth, 0, seed: 1, sizes: 2);
        var e = Assert.Throws<ArgumentException>(() => ChinchillaFit.Fit(runs));
        Assert.Contains("at least 5 runs", e.Message);
    }
}
