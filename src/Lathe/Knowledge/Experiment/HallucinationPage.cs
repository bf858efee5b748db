using System.Globalization;
using System.Text;
using Lathe.Evaluation.Levels;

namespace Lathe.Knowledge.Experiment;

/// <summary>The experiment as one self-contained HTML page (inline CSS and SVG, no script, nothing fetched): the goal
/// check per model and grounded arm, the results table with standard errors, the hallucination and accuracy plots
/// against model size, the reliability diagram, and what each metric means.</summary>
public static class HallucinationPage
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string Render(HallucinationRun run)
    {
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.Append("<title>Hallucination: scaling vs knowledge graph</title>\n<style>\n").Append(LevelsReport.Css).Append(Css).Append("</style>\n</head>\n<body>\n<main>\n");
        h.Append("<h1>Hallucination: scaling vs knowledge graph</h1>\n");
        var first = run.Results.FirstOrDefault();
        string counts = first is null ? "no results" : $"{first.Metrics.Questions} held-out questions ({first.Metrics.Answerable} answerable, {first.Metrics.Unanswerable} about invented entities)";
        h.Append(Inv, $"<p class=\"meta\">{E(counts)} · questions: {E(run.Questions)} · graph: {E(run.Graph)} · {run.Seconds:F0} s</p>\n");

        h.Append("<section>\n<h2>The goal: grounding halves hallucination without costing accuracy</h2>\n<table>\n<thead><tr><th>model</th><th>arm</th><th>hallucination ÷ alone</th><th>Δ accuracy vs alone</th><th>goal met</th></tr></thead>\n<tbody>\n");
        foreach (var g in GroundingGoal.Assess(run))
            h.Append(Inv, $"<tr><td>{E(g.Model)}</td><td>{E(g.Arm)}</td><td class=\"num\">{Ratio(g.HallucinationRatio)}</td><td class=\"num\">{Delta(g)}</td><td class=\"{(g.Met ? "met" : "unmet")}\">{(g.Met ? "yes" : "no")}</td></tr>\n");
        h.Append("</tbody>\n</table>\n<p class=\"note\">Met when the arm's hallucination rate is at most half the same model's alone and its accuracy on answerable questions is not more than two combined standard errors below.</p>\n</section>\n");

        h.Append("<section>\n<h2>Results</h2>\n<table>\n<thead><tr><th>model</th><th>params</th><th>arm</th>");
        foreach (string head in new[] { "accuracy", "hallucination", "halluc. (answerable)", "halluc. (unanswerable)", "abstention", "abstention (answerable)", "ECE" })
            h.Append("<th>").Append(E(head)).Append("</th>");
        h.Append("</tr></thead>\n<tbody>\n");
        foreach (var r in run.Results)
        {
            h.Append(Inv, $"<tr><td>{E(r.Model)}</td><td class=\"num\">{E(HallucinationReport.FormatParameters(r.Parameters))}</td><td>{E(r.Arm)}</td>");
            foreach (var (_, v) in HallucinationReport.Metrics(r.Metrics)) h.Append("<td class=\"num\">").Append(E(HallucinationReport.Cell(v))).Append("</td>");
            h.Append("</tr>\n");
        }
        h.Append("</tbody>\n</table>\n<p class=\"note\">± is the bootstrap standard error (questions resampled with replacement).</p>\n</section>\n");

        var svgs = HallucinationPlots.Svgs(run).ToDictionary(s => s.Name, s => s.Svg);
        h.Append("<section>\n<h2>Hallucination and accuracy against model size</h2>\n<div class=\"plots\">\n");
        h.Append("<figure>").Append(Inline(svgs[HallucinationPlots.HallucinationFile])).Append("</figure>\n");
        h.Append("<figure>").Append(Inline(svgs[HallucinationPlots.AccuracyFile])).Append("</figure>\n");
        h.Append("</div>\n<p class=\"note\">One line per arm; dashed, hollow-marked lines are the second model series (in the shipped experiment: the models pre-trained without the held-out facts, i.e. without knowledge injection). The checked arm's accuracy is the alone arm's by construction (it only withdraws answers), so its line covers alone's.</p>\n</section>\n");
        h.Append("<section>\n<h2>Calibration</h2>\n<figure>").Append(Inline(svgs[HallucinationPlots.ReliabilityFile])).Append("</figure>\n</section>\n");

        h.Append("""
<section>
<h2>What the numbers mean</h2>
<ul class="rules">
<li><b>accuracy</b>: answerable questions answered with one of the graph's values (names compared case-, accent- and punctuation-blind, numbers within 0.5%).</li>
<li><b>hallucination</b>: a non-abstaining wrong answer to an answerable question, or any answer to an unanswerable one (an invented entity), over all questions; both parts are shown beside the total.</li>
<li><b>abstention</b>: answering "I don't know." — by the model, or by the grounding when the graph has nothing (constrained), or in place of an answer the graph contradicts or cannot back (checked).</li>
<li><b>ECE</b>: expected calibration error over 10 bins of confidence (exp of the mean token log-probability of the answer) of the non-abstaining answers.</li>
</ul>
</section>

""");
        h.Append("</main>\n</body>\n</html>\n");
        return h.ToString();
    }

    // The chart's SVG without its XML declaration, so it can sit inside HTML.
    static string Inline(string svg) => svg.StartsWith("<?xml", StringComparison.Ordinal) ? svg[(svg.IndexOf("?>", StringComparison.Ordinal) + 2)..].TrimStart() : svg;

    static string Ratio(double r) => double.IsPositiveInfinity(r) ? "∞" : double.IsFinite(r) ? r.ToString("F2", Inv) : "–";

    static string Delta(GroundingGoal g) => !double.IsFinite(g.AccuracyChange) ? "–"
        : double.IsFinite(g.AccuracyChangeError) && g.AccuracyChangeError > 0
            ? string.Create(Inv, $"{100 * g.AccuracyChange:+0.0;-0.0;0.0} ± {100 * g.AccuracyChangeError:F1} pt")
            : string.Create(Inv, $"{100 * g.AccuracyChange:+0.0;-0.0;0.0} pt");

    static string E(string s) => HtmlText.Escape(s);

    const string Css = """
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
figure svg { display: block; max-width: 100%; height: auto; }
td.met { color: #17803d; font-weight: 600; }
td.unmet { color: #b00020; font-weight: 600; }

""";
}
