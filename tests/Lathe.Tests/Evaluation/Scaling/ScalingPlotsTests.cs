using System.Globalization;
using System.Xml.Linq;
using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>The SVG plots: well-formed and self-contained, every run drawn, points placed where the axes say, and the
/// same bytes for the same analysis.</summary>
public class ScalingPlotsTests
{
    static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    /// <summary>Five sizes of synthetic runs and a held-out run at 4× their largest compute, fitted (shared with ChartPngTests).</summary>
    internal static ScalingAnalysis Analysis()
    {
        var truth = ScalingSynthetic.Truth;
        var runs = ScalingSynthetic.Grid(truth, 0.005, seed: 2, sizes: 5);
        double c = 4 * runs.Max(r => r.Compute), n = truth.OptimalParameters(c);
        return ScalingAnalysis.Run(runs, [ScalingRun.Create("big", n, c / (6 * n), truth.Predict(n, c / (6 * n)))],
            new ScalingAnalysisOptions { Fit = new ChinchillaFitOptions { Grid = ChinchillaGrid.Small } });
    }

    static void AssertSelfContained(string svg)
    {
        var doc = XDocument.Parse(svg);
        Assert.Equal(Svg + "svg", doc.Root!.Name);
        Assert.DoesNotContain("<script", svg);
        Assert.DoesNotContain("@font-face", svg);
        Assert.DoesNotContain("@import", svg);
        Assert.DoesNotContain("href", svg);
        // The only url() is the plot area's clip path, inside the file.
        Assert.All(svg.Split("url(").Skip(1), rest => Assert.StartsWith("#plot)", rest));
    }

    [Fact]
    public void Every_plot_is_self_contained_and_draws_every_run()
    {
        var analysis = Analysis();
        string loss = ScalingPlots.LossVsCompute(analysis);
        string predicted = ScalingPlots.PredictedVsMeasured(analysis);
        AssertSelfContained(loss);
        AssertSelfContained(predicted);
        // One circle per run, plus the legend's sample marker.
        Assert.Equal(analysis.Runs.Count + 1, XDocument.Parse(loss).Descendants(Svg + "circle").Count());
        Assert.Equal(analysis.Runs.Count + 1, XDocument.Parse(predicted).Descendants(Svg + "circle").Count());
        Assert.Contains("compute C (FLOPs)", loss);
        Assert.Contains("fitted frontier", loss);
        Assert.Contains("held out: measured", loss);
        Assert.Contains("y = x", predicted);
        Assert.Equal(loss, ScalingPlots.LossVsCompute(analysis));
    }

    [Fact]
    public void IsoFlop_profiles_draw_each_budget_its_parabola_and_its_minimum()
    {
        var truth = ScalingSynthetic.Truth;
        var runs = new List<ScalingRun>();
        foreach (double c in new[] { 1e15, 1e16, 1e17 })
            foreach (double u in new[] { -1.0, 0, 1.0, 2.0 })
            {
                double n = truth.OptimalParameters(c) * Math.Exp(u);
                runs.Add(ScalingRun.Create("r", n, c / (6 * n), truth.Predict(n, c / (6 * n))));
            }
        string svg = ScalingPlots.IsoFlopProfiles(IsoFlopFit.Fit(runs));
        AssertSelfContained(svg);
        var doc = XDocument.Parse(svg);
        Assert.Equal(12 + 3, doc.Descendants(Svg + "circle").Count());        // runs + a legend marker per budget
        Assert.Equal(3, doc.Descendants(Svg + "polyline").Count());           // a parabola per budget
        Assert.Equal(3 + 1, doc.Descendants(Svg + "path").Count());           // a minimum per budget + the legend's
        Assert.Contains("C = 1.0e15", svg);
    }

    [Fact]
    public void Points_land_where_the_axes_put_them()
    {
        // Plot area x ∈ [78, 736], y ∈ [438, 44] (pixels); x on log axis 1–100, y linear 0–10: (10, 5) is its centre.
        var chart = new SvgChart("t", "x", "y", logX: true, logY: false);
        chart.SetRange(1, 100, 0, 10);
        chart.AddPoints("a < b & c", [(10, 5), (1, 0)], "#000000");
        var doc = XDocument.Parse(chart.Render());
        var circles = doc.Descendants(Svg + "circle").Select(c => (X: double.Parse(c.Attribute("cx")!.Value, CultureInfo.InvariantCulture),
            Y: double.Parse(c.Attribute("cy")!.Value, CultureInfo.InvariantCulture))).ToList();
        Assert.Contains((407.0, 241.0), circles);
        Assert.Contains((78.0, 438.0), circles);
        // Decade ticks 10⁰, 10¹, 10² on the log axis; 0, 2, …, 10 on the linear one.
        var labels = doc.Descendants(Svg + "text").Select(t => t.Value).ToList();
        Assert.Contains("100", labels);   // "10" with a superscript "0"
        Assert.Contains("101", labels);
        Assert.Contains("102", labels);
        Assert.Contains("8", labels);
        Assert.Contains("a < b & c", labels);
    }

    [Fact]
    public void Sequential_colours_run_from_viridis_purple_to_green()
    {
        Assert.Equal("#440154", SvgChart.Sequential(0));
        Assert.Equal("#21918c", SvgChart.Sequential(0.5));
        Assert.Equal("#b5de2b", SvgChart.Sequential(1));
    }
}
