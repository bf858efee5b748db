using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Lathe.Evaluation.Tasks;
using Lathe.IO;

namespace Lathe.Knowledge.Experiment;

/// <summary>The experiment's results as files: <c>hallucination.json</c> (every model × arm with its metrics and their
/// standard errors; undefined values as null), <c>hallucination.md</c> (the table), <c>hallucination.html</c> (the
/// page with plots, <see cref="HallucinationPage"/>), the plots as SVG and PNG, and
/// <c>hallucination-samples.jsonl.gz</c> (every answer, so the metrics can be recomputed without Lathe; gzip, as the
/// full experiment's answers run to megabytes).</summary>
public static class HallucinationReport
{
    public const string JsonFile = "hallucination.json", MarkdownFile = "hallucination.md", HtmlFile = "hallucination.html",
        SamplesFile = "hallucination-samples.jsonl.gz";

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Writes every file into <paramref name="dir"/> atomically; returns their paths.</summary>
    public static IReadOnlyList<string> WriteAll(string dir, HallucinationRun run)
    {
        var written = new List<string>();
        void Text(string name, string text) { string p = Path.Combine(dir, name); AtomicFile.WriteAllText(p, text); written.Add(p); }
        Text(JsonFile, Json(run));
        Text(MarkdownFile, Markdown(run));
        Text(HtmlFile, HallucinationPage.Render(run));
        JsonlFile.Write(Path.Combine(dir, SamplesFile), Samples(run));
        written.Add(Path.Combine(dir, SamplesFile));
        written.AddRange(HallucinationPlots.WriteAll(dir, run));
        return written;
    }

    /// <summary>The results document.</summary>
    public static string Json(HallucinationRun run)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("questions", run.Questions);
            w.WriteString("kg", run.Graph);
            if (run.Limit > 0) w.WriteNumber("limit", run.Limit); else w.WriteNull("limit");
            w.WriteNumber("seconds", Math.Round(run.Seconds, 3));
            w.WriteStartArray("results");
            foreach (var r in run.Results)
            {
                var m = r.Metrics;
                w.WriteStartObject();
                w.WriteString("model", r.Model);
                w.WriteString("path", r.Path);
                w.WriteNumber("params", r.Parameters);
                w.WriteString("arm", r.Arm);
                w.WriteNumber("questions", m.Questions);
                w.WriteNumber("answerable", m.Answerable);
                w.WriteNumber("unanswerable", m.Unanswerable);
                w.WriteStartObject("metrics");
                foreach (var (name, value) in Metrics(m))
                {
                    w.WriteStartObject(name);
                    Number(w, "value", value.Value);
                    Number(w, "stderr", value.StandardError);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteStartArray("reliability");
                foreach (var b in m.Reliability)
                {
                    w.WriteStartObject();
                    w.WriteNumber("lo", b.Lo);
                    w.WriteNumber("hi", b.Hi);
                    w.WriteNumber("count", b.Count);
                    Number(w, "confidence", b.MeanConfidence);
                    Number(w, "accuracy", b.Accuracy);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    /// <summary>The metrics by their JSON names, in the table's order.</summary>
    public static IEnumerable<(string Name, MetricValue Value)> Metrics(HallucinationMetrics m) =>
    [
        ("accuracy", m.Accuracy), ("hallucination", m.Hallucination), ("hallucination_answerable", m.HallucinationAnswerable),
        ("hallucination_unanswerable", m.HallucinationUnanswerable), ("abstention", m.Abstention), ("abstention_answerable", m.AbstentionAnswerable),
        ("ece", m.CalibrationError),
    ];

    static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    /// <summary>The Markdown table: one row per model × arm.</summary>
    public static string Markdown(HallucinationRun run)
    {
        var s = new StringBuilder();
        s.Append("| model | params | arm | accuracy | hallucination | halluc. (answerable) | halluc. (unanswerable) | abstention | abstention (answerable) | ECE |\n");
        s.Append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in run.Results)
        {
            s.Append(Inv, $"| {r.Model} | {FormatParameters(r.Parameters)} | {r.Arm} |");
            foreach (var (_, v) in Metrics(r.Metrics)) s.Append(' ').Append(Cell(v)).Append(" |");
            s.Append('\n');
        }
        var goals = GroundingGoal.Assess(run);
        if (goals.Count > 0)
        {
            s.Append("\n| model | arm | hallucination ÷ alone | Δ accuracy vs alone | goal met |\n|---|---|---:|---:|---|\n");
            foreach (var g in goals)
                s.Append(Inv, $"| {g.Model} | {g.Arm} | {(double.IsFinite(g.HallucinationRatio) ? g.HallucinationRatio.ToString("F2", Inv) : "–")} | {100 * g.AccuracyChange:+0.0;-0.0;0.0} ± {100 * g.AccuracyChangeError:F1} pt | {(g.Met ? "yes" : "no")} |\n");
            s.Append("\nGoal (issue #17): a grounded arm cuts the same model's hallucination rate at least in half, its accuracy not more than two combined standard errors below.\n");
        }
        var first = run.Results.FirstOrDefault();
        if (first is not null)
            s.Append(Inv, $"\n{first.Metrics.Questions} questions ({first.Metrics.Answerable} answerable, {first.Metrics.Unanswerable} unanswerable) from {run.Questions}; ± is the bootstrap standard error.\n");
        return s.ToString();
    }

    /// <summary>A value ± its standard error, as a percentage for rates (ECE too: it is a difference of rates).</summary>
    public static string Cell(MetricValue v) => !double.IsFinite(v.Value) ? "–"
        : double.IsFinite(v.StandardError) ? string.Create(Inv, $"{100 * v.Value:F1} ± {100 * v.StandardError:F1}%") : string.Create(Inv, $"{100 * v.Value:F1}%");

    internal static string FormatParameters(long p) => p >= 1_000_000 ? string.Create(Inv, $"{p / 1e6:F2}M") : p >= 1000 ? string.Create(Inv, $"{p / 1e3:F1}k") : p.ToString(Inv);

    /// <summary>One JSON line per answer: model, arm, question id, answerable, numeric, the acceptable answers, the
    /// answer, confidence, abstained, correct, hallucinated (scripts/kg/check_metrics.py recomputes the metrics from
    /// these).</summary>
    public static IEnumerable<string> Samples(HallucinationRun run)
    {
        var options = new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        foreach (var r in run.Results)
            foreach (var a in r.Answers)
                yield return JsonSerializer.Serialize(new
                {
                    model = r.Model, arm = r.Arm, id = a.Question.Id, answerable = a.Question.Answerable, numeric = a.Question.Numeric, answers = a.Question.Answers, answer = a.Answer,
                    confidence = a.Confidence, abstained = a.Abstained, correct = a.Correct, hallucinated = a.Hallucinated,
                }, options);
    }
}
