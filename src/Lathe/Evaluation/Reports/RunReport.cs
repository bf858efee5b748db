using System.Globalization;
using System.Text;
using Lathe.Evaluation.Levels;
using Lathe.IO;
using Lathe.Training;

namespace Lathe.Evaluation.Reports;

/// <summary>One self-contained HTML page for a run folder (<c>lathe eval report --run DIR</c>): whatever of these the
/// folder holds, in pipeline order — the loss curves from <c>metrics.jsonl</c>, the task table from
/// <c>results.json</c>, the Levels-of-AGI matrix and evidence from the same results (<see cref="LevelsReport"/>), and
/// the scaling plots (<c>*.svg</c> beside <c>scaling.json</c>, in the folder or its <c>scaling/</c>). Nothing is
/// fetched and nothing runs: the loss chart and the matrix are inline SVG, and SVG files made by other tools are
/// embedded as <c>data:</c> images, where a browser runs no script they might hold.</summary>
public static class RunReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>What the page was built from.</summary>
    public sealed record Contents(string RunDir, IReadOnlyList<MetricsRow>? Metrics, ResultsDocument? Results, LevelsAssessment? Levels,
        IReadOnlyList<string> ScalingPlots, string? ScalingJson);

    /// <summary>Gathers a run folder's files. <paramref name="referencesPath"/> is the levels reference table (null: the
    /// levels section is left out).</summary>
    /// <exception cref="DirectoryNotFoundException">No such folder.</exception>
    /// <exception cref="InvalidDataException">A bad file (named), or a folder with none of the files a report shows.</exception>
    public static Contents Gather(string runDir, string? referencesPath)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"{runDir}: run folder not found");
        string metricsPath = Path.Combine(runDir, "metrics.jsonl"), resultsPath = Path.Combine(runDir, "results.json");
        var metrics = File.Exists(metricsPath) ? TrainingMetrics.Load(metricsPath) : null;
        var results = File.Exists(resultsPath) ? ResultsDocument.Load(resultsPath) : null;
        var levels = results is not null && referencesPath is not null ? LevelsAssessment.Assess(results, ReferenceTable.Load(referencesPath)) : null;
        var plots = new List<string>();
        string? scalingJson = null;
        foreach (string dir in new[] { runDir, Path.Combine(runDir, "scaling") })
        {
            if (!Directory.Exists(dir)) continue;
            if (File.Exists(Path.Combine(dir, "scaling.json"))) scalingJson ??= Path.Combine(dir, "scaling.json");
            plots.AddRange(Directory.GetFiles(dir, "*.svg").Where(f => Path.GetFileName(f) != "loss.svg").Order(StringComparer.Ordinal));
        }
        if (metrics is null && results is null && plots.Count == 0 && scalingJson is null)
            throw new InvalidDataException($"{runDir}: holds no metrics.jsonl, results.json, scaling.json or plots: nothing to report");
        return new Contents(runDir, metrics, results, levels, plots, scalingJson);
    }

    /// <summary>Writes the page atomically.</summary>
    public static void Write(Contents c, string path) => AtomicFile.WriteAllText(path, Render(c));

    public static string Render(Contents c)
    {
        string name = c.Results?.Model.Source ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(c.RunDir)));
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.Append(Inv, $"<title>Lathe run report — {E(name)}</title>\n<style>\n{LevelsReport.Css}{Css}</style>\n</head>\n<body>\n<main>\n");
        h.Append(Inv, $"<h1>Run report: {E(name)}</h1>\n<p class=\"meta\">{E(Facts(c))}</p>\n");
        h.Append("<nav class=\"toc\">");
        if (c.Metrics is not null) h.Append("<span>Training</span>");
        if (c.Results is not null) h.Append("<span>Tasks</span>");
        if (c.Levels is not null) h.Append("<span>Levels of AGI</span>");
        if (c.ScalingPlots.Count > 0 || c.ScalingJson is not null) h.Append("<span>Scaling</span>");
        h.Append("</nav>\n");
        if (c.Metrics is not null) Training(h, c.Metrics);
        if (c.Results is not null) Tasks(h, c.Results);
        if (c.Levels is not null)
        {
            h.Append("<h2 class=\"part\">Levels of AGI</h2>\n");
            LevelsReport.AppendAssessment(h, c.Levels, name);
        }
        if (c.ScalingPlots.Count > 0 || c.ScalingJson is not null) Scaling(h, c);
        h.Append("</main>\n</body>\n</html>\n");
        return h.ToString();
    }

    static string Facts(Contents c)
    {
        var facts = new List<string> { Path.GetFullPath(c.RunDir) };
        var model = c.Results?.Model;
        if (model?.ModelType is { } type) facts.Add(type);
        if (model?.Parameters is long p) facts.Add(LevelsReport.FormatParameters(p));
        if (c.Metrics is { Count: > 0 } m) facts.Add($"{m[^1].Step} steps, {m[^1].Tokens.ToString("N0", Inv)} tokens");
        return string.Join(" · ", facts);
    }

    static void Training(StringBuilder h, IReadOnlyList<MetricsRow> rows)
    {
        h.Append("<section>\n<h2 class=\"part\">Training</h2>\n");
        if (rows.Count == 0)
        {
            h.Append("<p class=\"note\">metrics.jsonl is empty.</p>\n</section>\n");
            return;
        }
        var train = rows.Select(r => ((double)r.Step, r.Loss)).ToList();
        var val = rows.Where(r => r.ValLoss is not null).Select(r => ((double)r.Step, r.ValLoss!.Value)).ToList();
        h.Append("<div class=\"chart\" id=\"loss-chart\">\n").Append(LossCurve.Svg(train, val)).Append("</div>\n");
        var last = rows[^1];
        var bestVal = rows.Where(r => r.ValLoss is not null).MinBy(r => r.ValLoss);
        h.Append("<table class=\"summary\">\n<tbody>\n");
        Row(h, "steps", last.Step.ToString(Inv));
        Row(h, "tokens", last.Tokens.ToString("N0", Inv));
        Row(h, "final train loss", LevelsReport.Number(last.Loss) + " nats");
        if (bestVal is not null)
            Row(h, "best validation loss", $"{LevelsReport.Number(bestVal.ValLoss)} nats at step {bestVal.Step} (perplexity {LevelsReport.Number(Math.Exp(bestVal.ValLoss!.Value))})");
        Row(h, "final learning rate", last.Lr.ToString("0.###e+0", Inv));
        h.Append("</tbody>\n</table>\n</section>\n");
    }

    static void Row(StringBuilder h, string key, string value) => h.Append(Inv, $"<tr><th>{E(key)}</th><td>{E(value)}</td></tr>\n");

    static void Tasks(StringBuilder h, ResultsDocument results)
    {
        h.Append("<section>\n<h2 class=\"part\">Tasks</h2>\n<table class=\"tasks\">\n<thead><tr><th>task</th><th>version</th><th>metric</th><th>value</th><th>± stderr</th><th>n</th><th>chance</th></tr></thead>\n<tbody>\n");
        foreach (var t in results.Tasks)
        {
            bool first = true;
            foreach (var (metric, figure) in t.Metrics)
            {
                string task = first ? E(t.Name) : "", version = first && t.Version is long v ? v.ToString(Inv) : "", n = first && t.Documents is long d ? d.ToString(Inv) : "";
                string chance = first ? LevelsReport.Number(t.Chance) : "";
                h.Append(Inv, $"<tr><td>{task}</td><td class=\"num\">{version}</td><td>{E(metric)}</td><td class=\"num\">{E(LevelsReport.Number(figure.Value))}</td><td class=\"num\">{E(LevelsReport.Number(figure.Stderr))}</td><td class=\"num\">{n}</td><td class=\"num\">{E(chance)}</td></tr>\n");
                first = false;
            }
        }
        h.Append(Inv, $"</tbody>\n</table>\n<p class=\"note\">From {E(results.Path)}.</p>\n</section>\n");
    }

    static void Scaling(StringBuilder h, Contents c)
    {
        h.Append("<section>\n<h2 class=\"part\">Scaling</h2>\n");
        if (c.ScalingJson is not null) h.Append(Inv, $"<p class=\"note\">Fits in {E(c.ScalingJson)}.</p>\n");
        foreach (string plot in c.ScalingPlots)
        {
            string data = Convert.ToBase64String(File.ReadAllBytes(plot));
            h.Append(Inv, $"<figure class=\"plot\"><img alt=\"{E(Path.GetFileName(plot))}\" src=\"data:image/svg+xml;base64,{data}\"><figcaption>{E(Path.GetFileName(plot))}</figcaption></figure>\n");
        }
        h.Append("</section>\n");
    }

    static string E(string s) => HtmlText.Escape(s);

    const string Css = """
h2.part { font-size: 21px; border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 36px; }
nav.toc span { display: inline-block; margin-right: 10px; padding: 2px 10px; background: #eee; border-radius: 10px; font-size: 13px; color: #444; }
.chart, figure.plot { background: #fff; display: inline-block; padding: 8px; margin: 0 12px 12px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
figure.plot img { display: block; max-width: 100%; }
figure.plot figcaption { font-size: 12px; color: #555; margin-top: 4px; }
table.summary th { width: 190px; }

""";
}
