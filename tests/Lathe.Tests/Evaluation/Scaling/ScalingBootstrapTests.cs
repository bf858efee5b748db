using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Bootstrap intervals: percentiles as numpy computes them, collapse on exact data, widths that follow the
/// noise, and seeded reproducibility.</summary>
public class ScalingBootstrapTests
{
    [Fact]
    public void Quantiles_interpolate_between_order_statistics_as_numpy_does()
    {
        // numpy.percentile([1, 2, 3, 4], [2.5, 25, 97.5]) = [1.075, 1.75, 3.925]
        double[] sorted = [1, 2, 3, 4];
        Assert.Equal(1.075, ScalingBootstrap.Quantile(sorted, 0.025), 1e-12);
        Assert.Equal(1.75, ScalingBootstrap.Quantile(sorted, 0.25), 1e-12);
        Assert.Equal(3.925, ScalingBootstrap.Quantile(sorted, 0.975), 1e-12);
        var interval = ScalingBootstrap.Percentile([4.0, 1, 3, 2], 0.95);
        Assert.Equal((1.075, 3.925), (Math.Round(interval.Low, 12), Math.Round(interval.High, 12)));
    }

    [Fact]
    public void Exact_data_give_intervals_that_collapse_on_the_truth()
    {
        var truth = ScalingSynthetic.Truth;
        var runs = ScalingSynthetic.Grid(truth, 0, seed: 1, sizes: 5);
        var full = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        var held = new[] { ScalingRun.Create("big", 1e10, 1e12, truth.Predict(1e10, 1e12)) };
        var ci = ScalingBootstrap.Chinchilla(runs, full, new BootstrapOptions { Resamples = 20, Seed = 3 }, held);
        // Every resample of exact data is still fitted exactly (when it keeps 5+ distinct runs, as 25 draws of 25 do).
        Assert.Equal(truth.Alpha, ci.Alpha.Low, 1e-6);
        Assert.Equal(truth.Alpha, ci.Alpha.High, 1e-6);
        Assert.Equal(truth.ParametersExponent, ci.ParametersExponent.Low, 1e-6);
        Assert.Equal(truth.ParametersExponent, ci.ParametersExponent.High, 1e-6);
        Assert.Equal(held[0].Loss, ci.Predictions[0].Low, 1e-6);
        Assert.Equal(held[0].Loss, ci.Predictions[0].High, 1e-6);
        Assert.Equal(0, ci.Failed);
    }

    [Fact]
    public void Interval_widths_follow_the_noise()
    {
        var truth = ScalingSynthetic.Truth;
        var options = new BootstrapOptions { Resamples = 40, Seed = 2 };
        double Width(double sigma)
        {
            var runs = ScalingSynthetic.Grid(truth, sigma, seed: 9, sizes: 6);
            var full = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
            var ci = ScalingBootstrap.Chinchilla(runs, full, options);
            return ci.ParametersExponent.High - ci.ParametersExponent.Low;
        }
        // The same noise draws scaled by 4 (one seed): for a smooth estimator the spread scales with σ, so the width
        // ratio is 4 up to the nonlinearity of the fit; a factor 2–8 is what "follows the noise" means here.
        double small = Width(0.0025), large = Width(0.01);
        Assert.InRange(large / small, 2, 8);
    }

    [Fact]
    public void The_same_seed_gives_the_same_intervals_and_another_seed_does_not()
    {
        var runs = ScalingSynthetic.Grid(ScalingSynthetic.Truth, 0.01, seed: 4, sizes: 5);
        var full = ChinchillaFit.Fit(runs, new ChinchillaFitOptions { Grid = ChinchillaGrid.Small });
        var a = ScalingBootstrap.Chinchilla(runs, full, new BootstrapOptions { Resamples = 10, Seed = 7 });
        var b = ScalingBootstrap.Chinchilla(runs, full, new BootstrapOptions { Resamples = 10, Seed = 7 });
        var c = ScalingBootstrap.Chinchilla(runs, full, new BootstrapOptions { Resamples = 10, Seed = 8 });
        Assert.Equal(a.Alpha, b.Alpha);
        Assert.Equal(a.E, b.E);
        Assert.NotEqual(a.Alpha, c.Alpha);
    }

    [Fact]
    public void IsoFlop_intervals_collapse_on_exact_parabolas()
    {
        var runs = new List<ScalingRun>();
        foreach (double c in new[] { 1e15, 1e16, 1e17, 1e18 })
            foreach (double u in new[] { -1.5, -1, -0.5, 0, 0.5, 1, 1.5 })
            {
                double nStar = 0.2 * Math.Pow(c, 0.45), n = nStar * Math.Exp(u);
                runs.Add(ScalingRun.Create("r", n, c / (6 * n), 2.5 + 0.04 * u * u));
            }
        var ci = ScalingBootstrap.IsoFlop(runs, new BootstrapOptions { Resamples = 30, Seed = 1 });
        Assert.Equal(0.45, ci.ParametersExponent.Low, 1e-9);
        Assert.Equal(0.45, ci.ParametersExponent.High, 1e-9);
        Assert.Equal(0.55, ci.TokensExponent.Low, 1e-9);
    }

    [Fact]
    public void Zero_resamples_is_an_argument_error()
    {
        var runs = ScalingSynthetic.Grid(ScalingSynthetic.Truth, 0, seed: 1, sizes: 3);
        var e = Assert.Throws<ArgumentException>(() => ScalingBootstrap.IsoFlop(runs, new BootstrapOptions { Resamples = 0 }));
        Assert.Contains("resamples 0", e.Message);
    }
}
