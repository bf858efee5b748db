using System.Text.Json;
using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>scaling.json: the figures of the analysis at full precision, and null (not a crash) where a degenerate fit
/// has no frontier.</summary>
public class ScalingReportJsonTests
{
    static JsonElement Document(ScalingAnalysis analysis)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer)) ScalingReportJson.Write(w, analysis);
        return JsonDocument.Parse(buffer.ToArray()).RootElement;
    }

    [Fact]
    public void The_document_holds_the_fits_intervals_and_predictions_exactly()
    {
        var truth = ScalingSynthetic.Truth;
        var runs = ScalingSynthetic.Grid(truth, 0.005, seed: 8, sizes: 5);
        var held = ScalingRun.Create("h", 3e9, 2e11, 2.2);
        var analysis = ScalingAnalysis.Run(runs, [held], new ScalingAnalysisOptions
        {
            Fit = new ChinchillaFitOptions { Grid = ChinchillaGrid.Small }, BootstrapResamples = 5, Seed = 3,
        });
        var root = Document(analysis);
        var p = root.GetProperty("parametric");
        Assert.Equal(analysis.Parametric.Law.Alpha, p.GetProperty("alpha").GetDouble());
        Assert.Equal(analysis.Parametric.Law.E, p.GetProperty("E").GetDouble());
        Assert.Equal(analysis.ParametricIntervals!.Beta.Low, p.GetProperty("intervals").GetProperty("beta")[0].GetDouble());
        Assert.Equal(3, p.GetProperty("intervals").GetProperty("seed").GetInt32());
        var frontier = p.GetProperty("frontier").EnumerateArray().ToArray();
        Assert.Equal(analysis.Parametric.Law.FrontierLoss(frontier[0].GetProperty("compute").GetDouble()), frontier[0].GetProperty("loss").GetDouble());
        var h = root.GetProperty("held_out")[0];
        double predicted = analysis.Parametric.Law.Predict(3e9, 2e11);
        Assert.Equal(predicted, h.GetProperty("predicted").GetDouble());
        Assert.Equal((predicted - 2.2) / 2.2 * 100, h.GetProperty("error_percent").GetDouble(), 1e-12);
        Assert.Equal(held.Compute / runs.Max(r => r.Compute), h.GetProperty("compute_ratio").GetDouble(), 1e-12);
        Assert.Equal(2, h.GetProperty("predicted_interval").GetArrayLength());
        Assert.Equal("non-embedding", root.GetProperty("parameters_counted").GetString());
    }

    [Fact]
    public void A_fit_without_a_frontier_writes_null_and_a_missing_isoflop_fit_writes_its_reason()
    {
        // Loss falling with N only (β = 0): no compute-optimal split exists, G is not finite.
        var runs = Enumerable.Range(0, 6).Select(i => ScalingRun.Create($"r{i}", Math.Pow(10, 6 + i * 0.5), 1e9 * (1 + i), 2 + 100 / Math.Pow(10, (6 + i * 0.5) * 0.3))).ToList();
        var analysis = ScalingAnalysis.Run(runs, null, new ScalingAnalysisOptions { Fit = new ChinchillaFitOptions { Grid = ChinchillaGrid.Small } });
        var law = analysis.Parametric.Law with { Beta = 0 };
        var root = Document(analysis with { Parametric = analysis.Parametric with { Law = law } });
        Assert.Equal(JsonValueKind.Null, root.GetProperty("parametric").GetProperty("G").ValueKind);
        Assert.Contains("at least two compute budgets", root.GetProperty("isoflop").GetProperty("error").GetString());
    }
}
