using Lathe.Evaluation.Scaling;
using Lathe.IO;

namespace Lathe.Knowledge.Experiment;

/// <summary>The experiment's plots, drawn with the scaling report's chart (self-contained SVG, and a PNG of the same
/// drawing): the hallucination rate and the accuracy against model parameters (log x), one line per arm and model
/// series (solid for the first series, dashed for the others), and a reliability diagram of each arm on the largest
/// model of the first series.</summary>
public static class HallucinationPlots
{
    public const string HallucinationFile = "hallucination-vs-params.svg", AccuracyFile = "accuracy-vs-params.svg", ReliabilityFile = "reliability.svg";

    static readonly SvgMarker[] Markers = [SvgMarker.Circle, SvgMarker.Square, SvgMarker.Diamond, SvgMarker.Cross];

    /// <summary>Writes the three plots as NAME.svg and NAME.png; returns the paths.</summary>
    public static IReadOnlyList<string> WriteAll(string dir, HallucinationRun run)
    {
        var written = new List<string>();
        foreach (var (name, chart) in Charts(run))
        {
            string svg = Path.Combine(dir, name), png = Path.ChangeExtension(svg, ".png");
            AtomicFile.WriteAllText(svg, chart.Render());
            AtomicFile.WriteAllBytes(png, chart.RenderPng());
            written.Add(svg);
            written.Add(png);
        }
        return written;
    }

    /// <summary>The plots as SVG text, by file name, for the page to inline.</summary>
    public static IReadOnlyList<(string Name, string Svg)> Svgs(HallucinationRun run) => Charts(run).Select(c => (c.Name, c.Chart.Render())).ToList();

    static List<(string Name, SvgChart Chart)> Charts(HallucinationRun run) =>
    [
        // Grounded arms sit near 0% hallucination and near 100% accuracy: each legend goes where they leave room.
        (HallucinationFile, VersusParameters(run, "Hallucination rate vs model size", "hallucination rate (%)", m => m.Hallucination.Value, legendLeft: false)),
        (AccuracyFile, VersusParameters(run, "Accuracy on answerable questions vs model size", "accuracy (%)", m => m.Accuracy.Value, legendLeft: true)),
        (ReliabilityFile, Reliability(run)),
    ];

    static SvgChart VersusParameters(HallucinationRun run, string title, string yLabel, Func<HallucinationMetrics, double> metric, bool legendLeft)
    {
        var chart = new SvgChart(title, "model parameters", yLabel, logX: true, logY: false) { LegendLeft = legendLeft };
        var arms = run.Results.Select(r => r.Arm).Distinct().ToList();
        var series = run.Results.Select(r => r.Series).Distinct().ToList();
        for (int s = 0; s < series.Count; s++)
            foreach (string arm in arms)
            {
                var points = run.Results.Where(r => r.Series == series[s] && r.Arm == arm).OrderBy(r => r.Parameters)
                    .Select(r => ((double)r.Parameters, 100 * metric(r.Metrics))).ToList();
                if (points.Count == 0) continue;
                string color = SvgChart.Palette[arms.IndexOf(arm) % SvgChart.Palette.Length];
                string label = series[s].Length == 0 ? arm : $"{arm} ({series[s]})";
                chart.AddLine(null, points, color, dashed: s > 0);
                chart.AddPoints(label, points, color, Markers[s % Markers.Length], hollow: s > 0, size: 5);
            }
        chart.SetRange(XRange(run).Lo, XRange(run).Hi, -3, 103);   // 0% and 100% off the frame
        return chart;
    }

    // Parameters padded by a third of a decade each side, so a single size still gets an axis.
    static (double Lo, double Hi) XRange(HallucinationRun run)
    {
        var p = run.Results.Select(r => (double)Math.Max(1, r.Parameters)).ToList();
        if (p.Count == 0) return (1, 10);
        return (p.Min() / Math.Pow(10, 1.0 / 3), p.Max() * Math.Pow(10, 1.0 / 3));
    }

    static SvgChart Reliability(HallucinationRun run)
    {
        string firstSeries = run.Results.Select(r => r.Series).FirstOrDefault() ?? "";
        var largest = run.Results.Where(r => r.Series == firstSeries).OrderByDescending(r => r.Parameters).FirstOrDefault();
        string title = largest is null ? "Reliability" : $"Reliability of {largest.Model}";
        // Grounded answers cluster at accuracy 1 along the top; the bottom right (confident and wrong) is the emptiest corner.
        var chart = new SvgChart(title, "confidence (exp mean token log-prob)", "accuracy of answers given", logX: false, logY: false) { LegendBottom = true };
        chart.AddLine("perfect calibration", [(0, 0), (1, 1)], "#999999", dashed: true);
        if (largest is not null)
        {
            var arms = run.Results.Select(r => r.Arm).Distinct().ToList();
            foreach (var r in run.Results.Where(r => r.Model == largest.Model))
            {
                string color = SvgChart.Palette[arms.IndexOf(r.Arm) % SvgChart.Palette.Length];
                var bins = r.Metrics.Reliability.Where(b => b.Count > 0).Select(b => (b.MeanConfidence, b.Accuracy)).ToList();
                chart.AddLine(null, bins, color);
                string ece = double.IsFinite(r.Metrics.CalibrationError.Value) ? $"{100 * r.Metrics.CalibrationError.Value:F1}%" : "–";
                chart.AddPoints($"{r.Arm} (ECE {ece})", bins, color, size: 5);
            }
        }
        chart.SetRange(0, 1, -0.03, 1.03);
        return chart;
    }
}
