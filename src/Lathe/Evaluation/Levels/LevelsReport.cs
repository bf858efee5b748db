using System.Globalization;
using System.Text;
using Lathe.IO;

namespace Lathe.Evaluation.Levels;

/// <summary>The Levels-of-AGI report as one self-contained HTML page — inline CSS and SVG, no script, nothing fetched:
/// the verdict in plain words, the performance × generality matrix (<see cref="MatrixSvg"/>) with the model's cell
/// highlighted among the paper's reference points, the families, the evidence table (task, metric, score ± stderr,
/// chance, the five human anchors, level, and where each anchor comes from), and the rules used.</summary>
public static class LevelsReport
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes the page atomically.</summary>
    public static void Write(LevelsAssessment a, string path) => AtomicFile.WriteAllText(path, Render(a));

    /// <summary>The page's HTML.</summary>
    public static string Render(LevelsAssessment a)
    {
        var model = a.Results.Model;
        string name = model.Source ?? Path.GetFileName(a.Results.Path);
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        h.Append(Inv, $"<title>Levels of AGI — {E(name)}</title>\n<style>\n{Css}</style>\n</head>\n<body>\n<main>\n");
        h.Append(Inv, $"<h1>Levels of AGI: {E(name)}</h1>\n");
        var facts = new List<string>();
        if (model.ModelType is { } type) facts.Add(type);
        if (model.Format is { } format) facts.Add(format);
        if (model.Parameters is long p) facts.Add(FormatParameters(p));
        facts.Add($"results: {a.Results.Path}");
        h.Append(Inv, $"<p class=\"meta\">{E(string.Join(" · ", facts))}</p>\n");
        AppendAssessment(h, a, name);
        h.Append("</main>\n</body>\n</html>\n");
        return h.ToString();
    }

    /// <summary>The report's sections (verdict, matrix, families, evidence, rules) without the page around them, for
    /// pages that hold the levels among other things (the run report).</summary>
    internal static void AppendAssessment(StringBuilder h, LevelsAssessment a, string name)
    {
        h.Append(Inv, $"<section class=\"verdict\">\n<div class=\"cell-name\">Level {(int)a.Level} · {E(a.Cell)}</div>\n<p>{E(a.Verdict)}</p>\n</section>\n");

        h.Append("<section>\n<h2>Performance × generality</h2>\n<div class=\"matrix\">\n");
        h.Append(MatrixSvg.Render(a.Level, a.Generality, name));
        h.Append("\n</div>\n");
        h.Append(Inv, $"<p class=\"note\">Rows and columns after {E(LevelsOfAgi.Citation)}, Table 1; the paper's own examples are written in their cells. The amber cell is this model.</p>\n</section>\n");

        Families(h, a);
        Evidence(h, a);
        Rules(h, a);
    }

    static void Families(StringBuilder h, LevelsAssessment a)
    {
        h.Append("<section>\n<h2>Task families</h2>\n<table class=\"families\">\n<thead><tr><th>family</th><th>tasks (level)</th><th>family level</th></tr></thead>\n<tbody>\n");
        foreach (var f in a.Families)
            h.Append(Inv, $"<tr><td>{E(f.Family.Title)}</td><td>{E(string.Join(", ", f.Tasks.Select(t => $"{t.Task} ({(int)t.Level})")))}</td><td class=\"lvl level-{(int)f.Level}\">{(int)f.Level} · {E(LevelsOfAgi.Name(f.Level))}</td></tr>\n");
        if (a.Families.Count == 0) h.Append("<tr><td colspan=\"3\">No task of the results has a human reference.</td></tr>\n");
        h.Append(Inv, $"</tbody>\n</table>\n<p class=\"note\">Generality: {E(a.GeneralityReason)}.</p>\n</section>\n");
    }

    static void Evidence(StringBuilder h, LevelsAssessment a)
    {
        h.Append("<section>\n<h2>Evidence</h2>\n<table class=\"evidence\">\n<thead><tr><th>task</th><th>metric</th><th>score ± stderr</th><th>chance</th>");
        foreach (string anchor in new[] { "unskilled", "p50", "p90", "p99", "best" }) h.Append(Inv, $"<th>{anchor}</th>");
        h.Append("<th>level</th><th>source / assumption</th></tr></thead>\n<tbody>\n");
        foreach (var t in a.Tasks)
        {
            if (t.Standing == TaskStanding.NoReference)
            {
                string metrics = string.Join(", ", t.Figures.Metrics.Select(m => $"{m.Key} {Number(m.Value.Value)}"));
                h.Append(Inv, $"<tr class=\"unref\"><td>{E(t.Task)}</td><td colspan=\"3\">{E(metrics)}</td><td colspan=\"5\">—</td><td>—</td><td>no reference: not assessed</td></tr>\n");
                continue;
            }
            var r = t.Reference!;
            string arrow = r.HigherIsBetter ? "↑" : "↓";
            string score = t.Score is null ? "missing" : Number(t.Score.Value) + (t.Score.Stderr is double se ? " ± " + Number(se) : "");
            h.Append(Inv, $"<tr><td>{E(t.Task)}<div class=\"fam\">{E(a.References.Families[r.Family].Title)}</div></td><td>{E(r.Metric)} {arrow}</td><td class=\"num\">{E(score)}</td><td class=\"num\">{E(Number(t.Chance))}</td>");
            foreach (var anchor in Enum.GetValues<Anchor>())
            {
                var s = r[anchor];
                h.Append(Inv, $"<td class=\"num{(s.Assumption ? " assumed" : "")}\" title=\"{E(s.Provenance)}\">{E(Number(s.Value))}{(s.Assumption ? "*" : "")}</td>");
            }
            string level = t.Standing == TaskStanding.MetricMissing ? "—"
                : $"{(int)t.Level} · {LevelsOfAgi.Name(t.Level)}{(t.AtChance ? " (at chance)" : "")}";
            h.Append(Inv, $"<td class=\"lvl level-{(t.Standing == TaskStanding.Assessed ? (int)t.Level : 0)}\">{E(level)}</td><td class=\"prov\">{Provenance(r)}</td></tr>\n");
        }
        h.Append("</tbody>\n</table>\n<p class=\"note\">* an assumption, not a measured human figure (hover a value for its reason). ↑ higher is better, ↓ lower is better. The level is the highest anchor the score meets; Level 5 needs a score strictly better than the best person; a score within two standard errors of chance is Level 0.</p>\n</section>\n");
    }

    // A one-line summary that opens (a <details> element: no script) on the anchors' sources and reasons, so five
    // reasons per task do not make the table five times taller; the task's note, if any, stays visible.
    static string Provenance(TaskReference r)
    {
        string summary = r.Assumptions == 5 ? "all 5 anchors assumed" : r.Assumptions == 0 ? "all 5 anchors sourced" : $"{r.Assumptions} of 5 anchors assumed";
        var lines = Enum.GetValues<Anchor>().Select(a => $"<li><b>{ReferenceTable.Key(a)}</b> {E(r[a].Provenance)}</li>");
        string note = r.Note is null ? "" : $"<div class=\"task-note\">{E(r.Note)}</div>";
        return $"{note}<details><summary>{summary}</summary><ul>{string.Concat(lines)}</ul></details>";
    }

    static void Rules(StringBuilder h, LevelsAssessment a)
    {
        h.Append("<section>\n<h2>How the level is assigned</h2>\n<ol class=\"rules\">\n");
        h.Append(Inv, $"<li><b>Task.</b> Compared on the reference's metric. A score that does not beat chance by more than {LevelsAssessment.ChanceZ:0} standard errors is Level 0; otherwise the level of the highest human anchor it meets (unskilled → 1, 50th percentile of skilled adults → 2, 90th → 3, 99th → 4; strictly better than the best person → 5). Below the unskilled anchor: Level 0.</li>\n");
        h.Append("<li><b>Family.</b> The lower median of its tasks' levels: one lucky task does not lift a family.</li>\n");
        h.Append(Inv, $"<li><b>Generality.</b> General only if at least {LevelsAssessment.MinimumFamiliesForGeneral} families were assessed and more than half reach Level 1 or above; otherwise Narrow.</li>\n");
        h.Append("<li><b>Overall.</b> General: the highest level more than half of the families reach. Narrow: the best family's level, its specialty.</li>\n");
        h.Append("<li>Tasks without a human reference are listed and not counted.</li>\n</ol>\n");
        h.Append(Inv, $"<p class=\"note\">Reference table: {E(a.References.Path)}. Framework: {E(LevelsOfAgi.Citation)}. Levels: ");
        h.Append(E(string.Join("; ", Enum.GetValues<PerformanceLevel>().Select(l => $"{(int)l} {LevelsOfAgi.Name(l)} — {LevelsOfAgi.Definition(l)}"))));
        h.Append(". Narrow means a clearly scoped task or set of tasks; general means a wide range of non-physical tasks, metacognitive ones included.</p>\n</section>\n");
    }

    internal static string Number(double? v) => v is double x ? (double.IsFinite(x) ? x.ToString("0.####", Inv) : x.ToString(Inv)) : "—";

    internal static string FormatParameters(long p) => p >= 1_000_000_000 ? (p / 1e9).ToString("0.##", Inv) + "B parameters"
        : p >= 1_000_000 ? (p / 1e6).ToString("0.##", Inv) + "M parameters" : p.ToString(Inv) + " parameters";

    static string E(string s) => HtmlText.Escape(s);

    /// <summary>The page style, shared with the run report.</summary>
    internal const string Css = """
body { margin: 0; background: #fafafa; color: #1a1a1a; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; }
.meta, .note { color: #555; font-size: 13px; }
.verdict { background: #fff; border-left: 6px solid #b26a00; padding: 12px 18px; margin: 18px 0; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
.verdict .cell-name { font-size: 22px; font-weight: 700; color: #7a4800; }
.verdict p { margin: 6px 0 0; }
.matrix { background: #fff; display: inline-block; padding: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.08); }
table { border-collapse: collapse; background: #fff; box-shadow: 0 1px 3px rgba(0,0,0,.08); font-size: 13px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.assumed { color: #8a5a00; }
td.prov { font-size: 12px; color: #444; max-width: 360px; }
td.prov ul { margin: 4px 0; padding-left: 16px; }
td.prov summary { cursor: pointer; color: #8a5a00; }
.task-note { color: #7a2e00; margin-bottom: 2px; }
.fam { font-size: 11px; color: #777; }
tr.unref td { color: #888; font-style: italic; }
.lvl { font-weight: 600; white-space: nowrap; }
.level-0 { color: #666; } .level-1 { color: #1d5fa8; } .level-2 { color: #17803d; } .level-3 { color: #6a3fb5; } .level-4 { color: #b0306a; } .level-5 { color: #b00020; }
.rules li { margin: 4px 0; }

""";
}
