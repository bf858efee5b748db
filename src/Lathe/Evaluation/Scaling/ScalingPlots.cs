using System.Globalization;
using Lathe.IO;

namespace Lathe.Evaluation.Scaling;

/// <summary>The scaling report's three plots: loss against compute with the fitted frontier, the IsoFLOP profiles,
/// and predicted against measured loss — each as self-contained SVG (what the report pages embed) and as a PNG of the
/// same drawing (for places that want a picture: a README, an issue, a slide).</summary>
public static class ScalingPlots
{
    /// <summary>File names <see cref="WriteAll"/> uses for the SVGs; each PNG has the same base name.</summary>
    public const string LossVsComputeFile = "loss_vs_compute.svg", IsoFlopFile = "isoflop.svg", PredictedVsMeasuredFile = "predicted_vs_measured.svg";

    const string RunColor = "#0072B2", FrontierColor = "#D55E00", HeldOutColor = "#CC0000", PredictedColor = "#009E73";

    /// <summary>Writes each plot into <paramref name="folder"/> atomically as NAME.svg and NAME.png (the IsoFLOP plot
    /// only when that fit succeeded); returns the paths written, each SVG before its PNG.</summary>
    public static IReadOnlyList<string> WriteAll(string folder, ScalingAnalysis analysis)
    {
        var written = new List<string>();
        void Save(string name, SvgChart chart)
        {
            string svg = Path.Combine(folder, name), png = Path.ChangeExtension(svg, ".png");
            AtomicFile.WriteAllText(svg, chart.Render());
            AtomicFile.WriteAllBytes(png, chart.RenderPng());
            written.Add(svg);
            written.Add(png);
        }
        Save(LossVsComputeFile, LossVsComputeChart(analysis));
        if (analysis.IsoFlop is not null) Save(IsoFlopFile, IsoFlopChart(analysis.IsoFlop));
        Save(PredictedVsMeasuredFile, PredictedVsMeasuredChart(analysis));
        return written;
    }

    /// <summary>The loss-vs-compute plot as SVG.</summary>
    public static string LossVsCompute(ScalingAnalysis analysis) => LossVsComputeChart(analysis).Render();

    /// <summary>The IsoFLOP plot as SVG.</summary>
    public static string IsoFlopProfiles(IsoFlopResult iso) => IsoFlopChart(iso).Render();

    /// <summary>The predicted-vs-measured plot as SVG.</summary>
    public static string PredictedVsMeasured(ScalingAnalysis analysis) => PredictedVsMeasuredChart(analysis).Render();

    /// <summary>The loss-vs-compute plot as PNG bytes (1520×1000 RGB).</summary>
    public static byte[] LossVsComputePng(ScalingAnalysis analysis) => LossVsComputeChart(analysis).RenderPng();

    /// <summary>The IsoFLOP plot as PNG bytes.</summary>
    public static byte[] IsoFlopProfilesPng(IsoFlopResult iso) => IsoFlopChart(iso).RenderPng();

    /// <summary>The predicted-vs-measured plot as PNG bytes.</summary>
    public static byte[] PredictedVsMeasuredPng(ScalingAnalysis analysis) => PredictedVsMeasuredChart(analysis).RenderPng();

    /// <summary>Loss against compute (log x): every fitted run, the frontier L(N_opt(C), D_opt(C)) across the runs and
    /// held-out runs, and each held-out run measured beside its prediction.</summary>
    static SvgChart LossVsComputeChart(ScalingAnalysis analysis)
    {
        var law = analysis.Parametric.Law;
        var chart = new SvgChart("Loss vs compute", "compute C (FLOPs)", "validation loss (nats/token)", logX: true, logY: false);
        chart.AddPoints($"runs ({analysis.Runs.Count})", analysis.Runs.Select(r => (r.Compute, r.Loss)), RunColor);
        var computes = analysis.Runs.Concat(analysis.HeldOut).Select(r => r.Compute).ToArray();
        double lo = Math.Log10(computes.Min()), hi = Math.Log10(computes.Max());
        var frontier = Enumerable.Range(0, 121).Select(i => Math.Pow(10, lo + (hi - lo) * i / 120)).Select(c => (c, law.FrontierLoss(c)));
        chart.AddLine(string.Create(CultureInfo.InvariantCulture, $"fitted frontier (a = {law.ParametersExponent:F3})"), frontier, FrontierColor);
        if (analysis.Predictions.Count > 0)
        {
            foreach (var p in analysis.Predictions)
                chart.AddLine(null, [(p.Run.Compute, p.Run.Loss), (p.Run.Compute, p.Predicted)], "#999999", dashed: true);
            chart.AddPoints("held out: measured", analysis.Predictions.Select(p => (p.Run.Compute, p.Run.Loss)), HeldOutColor, SvgMarker.Square, size: 5);
            chart.AddPoints("held out: predicted", analysis.Predictions.Select(p => (p.Run.Compute, p.Predicted)), PredictedColor, SvgMarker.Cross, size: 7);
        }
        return chart;
    }

    /// <summary>Loss against N (log x) per compute budget: the runs, the fitted parabola, and its minimum.</summary>
    static SvgChart IsoFlopChart(IsoFlopResult iso)
    {
        var chart = new SvgChart("IsoFLOP profiles", "non-embedding parameters N", "validation loss (nats/token)", logX: true, logY: false);
        for (int i = 0; i < iso.Budgets.Count; i++)
        {
            var b = iso.Budgets[i];
            string color = SvgChart.Sequential(iso.Budgets.Count == 1 ? 0 : (double)i / (iso.Budgets.Count - 1));
            string label = string.Create(CultureInfo.InvariantCulture, $"C = {b.Compute:0.0e0}");
            chart.AddPoints(label, b.Runs.Select(r => (r.Parameters, r.Loss)), color);
            double lo = Math.Log(b.Runs.Min(r => r.Parameters)), hi = Math.Log(b.Runs.Max(r => r.Parameters));
            lo = Math.Min(lo, Math.Log(b.OptimalParameters)); hi = Math.Max(hi, Math.Log(b.OptimalParameters));
            chart.AddLine(null, Enumerable.Range(0, 61).Select(k => Math.Exp(lo + (hi - lo) * k / 60)).Select(n => (n, b.Loss(n))), color);
            chart.AddPoints(null, [(b.OptimalParameters, b.MinimumLoss)], color, SvgMarker.Cross, size: 6);
        }
        chart.AddPoints(string.Create(CultureInfo.InvariantCulture, $"minima: N_opt ∝ C^{iso.Parameters.Exponent:F3}"), [], "#000000", SvgMarker.Cross, size: 6);
        return chart;
    }

    /// <summary>Predicted against measured loss for the fitted runs and the held-out runs, with the line y = x.</summary>
    static SvgChart PredictedVsMeasuredChart(ScalingAnalysis analysis)
    {
        var law = analysis.Parametric.Law;
        var chart = new SvgChart("Predicted vs measured loss", "measured loss (nats/token)", "predicted loss (nats/token)", logX: false, logY: false)
        {
            LegendLeft = true,
        };
        var fitted = analysis.Runs.Select(r => (r.Loss, law.Predict(r.Parameters, r.Tokens))).ToList();
        var held = analysis.Predictions.Select(p => (p.Run.Loss, p.Predicted)).ToList();
        var all = fitted.Concat(held).SelectMany(p => new[] { p.Item1, p.Item2 }).Where(double.IsFinite).ToArray();
        double lo = all.Min(), hi = all.Max(), pad = 0.05 * Math.Max(hi - lo, 1e-3);
        chart.SetRange(lo - pad, hi + pad, lo - pad, hi + pad);   // equal ranges, so y = x is the diagonal
        chart.AddLine("y = x", [(lo - pad, lo - pad), (hi + pad, hi + pad)], "#777777", dashed: true);
        // The goal for a held-out prediction is within 2%: the band shows which points meet it.
        chart.AddLine("±2%", [(lo - pad, 1.02 * (lo - pad)), (hi + pad, 1.02 * (hi + pad))], "#bbbbbb");
        chart.AddLine(null, [(lo - pad, 0.98 * (lo - pad)), (hi + pad, 0.98 * (hi + pad))], "#bbbbbb");
        chart.AddPoints($"fitted runs ({fitted.Count})", fitted, RunColor);
        if (held.Count > 0) chart.AddPoints($"held out ({held.Count})", held, HeldOutColor, SvgMarker.Square, size: 5);
        return chart;
    }
}
