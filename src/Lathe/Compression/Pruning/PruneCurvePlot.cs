using System.Text.Json.Nodes;
using Lathe.Evaluation.Scaling;
using Lathe.IO;

namespace Lathe.Compression.Pruning;

/// <summary>The pruning trade-off curves from a results file that scripts/bench/prune-curves.sh writes:
/// <c>{"runs": [{"method", "fraction", "recovered", "ppl", "task", "task_score", "decode_tokens_per_s", "train_tokens_per_s"}, …]}</c>
/// (the unpruned model as method "none", fraction 0). One series per method, recovered runs dashed; the unpruned
/// point joins every series. Drawn with the repo's <see cref="SvgChart"/>.</summary>
public static class PruneCurvePlot
{
    public sealed record Run(string Method, double Fraction, bool Recovered, double Ppl, double? TaskScore, double? DecodeTokensPerSecond, double? TrainTokensPerSecond, string? Task = null);

    /// <summary>Reads the runs; a missing field is a one-line error naming the run and field.</summary>
    public static IReadOnlyList<Run> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"prune --plot: {path} not found", path);
        var root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new InvalidDataException($"prune --plot: {path}: not a JSON object");
        var runs = root["runs"] as JsonArray ?? throw new InvalidDataException($"prune --plot: {path}: no \"runs\" array");
        var result = new List<Run>();
        for (int i = 0; i < runs.Count; i++)
        {
            var o = runs[i] as JsonObject ?? throw new InvalidDataException($"prune --plot: {path}: runs[{i}] is not an object");
            double Need(string k) => o[k] is JsonValue v && v.TryGetValue(out double d) ? d : throw new InvalidDataException($"prune --plot: {path}: runs[{i}].{k} is missing or not a number");
            double? May(string k) => o[k] is JsonValue v && v.TryGetValue(out double d) ? d : null;
            string method = o["method"] is JsonValue m && m.TryGetValue(out string? s) ? s! : throw new InvalidDataException($"prune --plot: {path}: runs[{i}].method is missing");
            result.Add(new(method, Need("fraction"), o["recovered"] is JsonValue r && r.TryGetValue(out bool b) && b, Need("ppl"),
                May("task_score"), May("decode_tokens_per_s"), May("train_tokens_per_s"), o["task"] is JsonValue t && t.TryGetValue(out string? name) ? name : null));
        }
        return result;
    }

    /// <summary>Writes ppl_vs_fraction, task_vs_fraction, ppl_vs_decode_speed and ppl_vs_train_speed (.svg and .png) into
    /// <paramref name="folder"/> atomically; returns the paths.</summary>
    public static IReadOnlyList<string> WriteAll(string folder, IReadOnlyList<Run> runs)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        void Save(string name, SvgChart chart)
        {
            string p = Path.Combine(folder, name), png = Path.ChangeExtension(p, ".png");
            AtomicFile.WriteAllText(p, chart.Render());
            AtomicFile.WriteAllBytes(png, chart.RenderPng());   // the same drawing, for places that want a picture
            written.Add(p);
            written.Add(png);
        }
        Save("ppl_vs_fraction.svg", Chart(runs, "Perplexity vs fraction removed", "fraction removed (heads, channels, layers; weights zeroed)", "validation perplexity", r => r.Fraction, r => r.Ppl));
        string task = runs.Select(r => r.Task).FirstOrDefault(t => t is not null) ?? "task score";
        Save("task_vs_fraction.svg", Chart(runs, "Task score vs fraction removed", "fraction removed", task, r => r.Fraction, r => r.TaskScore));
        Save("ppl_vs_decode_speed.svg", Chart(runs, "Perplexity vs generation speed", "generation tokens/s (measured)", "validation perplexity", r => r.DecodeTokensPerSecond, r => r.Ppl));
        Save("ppl_vs_train_speed.svg", Chart(runs, "Perplexity vs training speed", "training tokens/s (measured)", "validation perplexity", r => r.TrainTokensPerSecond, r => r.Ppl));
        return written;
    }

    static SvgChart Chart(IReadOnlyList<Run> runs, string title, string xLabel, string yLabel, Func<Run, double?> x, Func<Run, double?> y)
    {
        // Quality falls as the fraction grows, so the upper left is where the data leave room.
        var chart = new SvgChart(title, xLabel, yLabel, logX: false, logY: false) { LegendLeft = true };
        var baseline = runs.Where(r => r.Method == "none").ToList();
        var methods = runs.Where(r => r.Method != "none").Select(r => r.Method).Distinct().ToList();
        var markers = new[] { SvgMarker.Circle, SvgMarker.Square, SvgMarker.Diamond, SvgMarker.Cross };
        for (int m = 0; m < methods.Count; m++)
        {
            string color = SvgChart.Palette[m % SvgChart.Palette.Length];
            foreach (bool recovered in new[] { false, true })
            {
                var points = baseline.Concat(runs.Where(r => r.Method == methods[m] && r.Recovered == recovered))
                    .Where(r => x(r) is not null && y(r) is not null).OrderBy(r => r.Fraction).Select(r => (x(r)!.Value, y(r)!.Value)).ToList();
                if (points.Count <= baseline.Count) continue;
                string label = methods[m] + (recovered ? " + recovery" : "");
                chart.AddLine(label, points, color, dashed: recovered);
                chart.AddPoints(null, points, color, markers[m % markers.Length], hollow: recovered);
            }
        }
        return chart;
    }
}
