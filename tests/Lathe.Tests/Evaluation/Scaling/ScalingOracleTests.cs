using System.Text.Json;
using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>Lathe's objective, gradient and IsoFLOP fit against an independent numpy script
/// (fixtures/make_scaling_oracle.py, which wrote fixtures/scaling_oracle.json).</summary>
public class ScalingOracleTests
{
    static readonly JsonElement Oracle = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Evaluation", "Scaling", "fixtures", "scaling_oracle.json"))).RootElement;

    static List<ScalingRun> Runs(JsonElement array) => array.EnumerateArray().Select(r => ScalingRun.Create(
        r.GetProperty("name").GetString()!, r.GetProperty("parameters").GetDouble(), r.GetProperty("tokens").GetDouble(),
        r.GetProperty("loss").GetDouble(), r.TryGetProperty("compute", out var c) ? c.GetDouble() : null)).ToList();

    [Fact]
    public void The_Huber_objective_and_its_gradient_match_numpy_to_1e_9()
    {
        var objective = new ChinchillaObjective(Runs(Oracle.GetProperty("runs")), Oracle.GetProperty("delta").GetDouble());
        foreach (var point in Oracle.GetProperty("points").EnumerateArray())
        {
            double[] theta = point.GetProperty("theta").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            var gradient = new double[5];
            double value = objective.Evaluate(theta, gradient);
            double expected = point.GetProperty("value").GetDouble();
            Assert.True(Math.Abs(value - expected) <= 1e-9 * Math.Max(1, Math.Abs(expected)), $"objective {value:R} vs numpy {expected:R}");
            double[] expectedGradient = point.GetProperty("gradient").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            for (int k = 0; k < 5; k++)
                Assert.True(Math.Abs(gradient[k] - expectedGradient[k]) <= 1e-9 * Math.Max(1, Math.Abs(expectedGradient[k])),
                    $"gradient[{k}] {gradient[k]:R} vs numpy {expectedGradient[k]:R}");
        }
    }

    [Fact]
    public void The_IsoFlop_minima_and_exponent_match_numpy_polyfit()
    {
        var iso = Oracle.GetProperty("isoflop");
        var fit = IsoFlopFit.Fit(Runs(iso.GetProperty("runs")));
        var minima = iso.GetProperty("minima").EnumerateArray().ToArray();
        Assert.Equal(minima.Length, fit.Budgets.Count);
        for (int i = 0; i < minima.Length; i++)
        {
            Assert.Equal(minima[i].GetProperty("compute").GetDouble(), fit.Budgets[i].Compute, minima[i].GetProperty("compute").GetDouble() * 1e-12);
            Assert.Equal(1, fit.Budgets[i].OptimalParameters / minima[i].GetProperty("optimal_parameters").GetDouble(), 1e-9);
        }
        Assert.Equal(iso.GetProperty("a").GetDouble(), fit.Parameters.Exponent, 1e-9);
        Assert.Equal(1, fit.Parameters.Coefficient / iso.GetProperty("k").GetDouble(), 1e-7);
    }
}
