using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Lathe.IO;

namespace Lathe.Evaluation.Tasks;

/// <summary>The results of one `eval tasks` run as one JSON document (the model, the run's settings, each task's
/// version, metrics and standard errors) and as a Markdown table; per-document samples as JSONL for checking. The
/// format is in docs/EVALUATION.md; Levels-of-AGI and the HTML report read the JSON.</summary>
public static class EvalResults
{
    public static void WriteJson(string path, LoadedModel model, TaskRunOptions options, string? adapter, IReadOnlyList<TaskResult> results, double seconds) =>
        AtomicFile.WriteAllBytes(path, Json(model, options, adapter, results, seconds));

    public static byte[] Json(LoadedModel model, TaskRunOptions options, string? adapter, IReadOnlyList<TaskResult> results, double seconds)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("lathe_eval", 1);
            w.WriteStartObject("model");
            w.WriteString("source", model.Source);
            w.WriteString("format", model.Format);
            w.WriteString("model_type", model.Model.Config.ModelType);
            w.WriteNumber("parameters", model.Model.ParameterCount);
            w.WriteEndObject();
            w.WriteStartObject("config");
            w.WriteNumber("shots", options.Shots);
            if (options.Limit is int limit) w.WriteNumber("limit", limit); else w.WriteNull("limit");
            w.WriteNumber("seed", options.Seed);
            if (adapter is null) w.WriteNull("adapter"); else w.WriteString("adapter", adapter);
            w.WriteNumber("bootstrap_iters", options.BootstrapIterations);
            w.WriteEndObject();
            w.WriteStartObject("tasks");
            foreach (var r in results)
            {
                w.WriteStartObject(r.Task.Name);
                w.WriteNumber("version", r.Task.Version);
                w.WriteString("output_type", OutputTypeName(r.Task.OutputType));
                w.WriteNumber("documents", r.Samples.Count);
                w.WriteString("source", r.Task.Source);
                if (r.Chance is double c) w.WriteNumber("chance", c); else w.WriteNull("chance");
                w.WriteStartObject("metrics");
                foreach (var (name, m) in r.Metrics)
                {
                    w.WriteStartObject(name);
                    Number(w, "value", m.Value);
                    Number(w, "stderr", m.StandardError);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
                w.WriteEndObject();
            }
            w.WriteEndObject();
            w.WriteNumber("seconds", Math.Round(seconds, 3));
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>| task | version | metric | value | ± stderr | n |, one row per metric.</summary>
    public static string Markdown(IReadOnlyList<TaskResult> results)
    {
        var s = new StringBuilder("| task | version | metric | value | ± stderr | n |\n|---|---:|---|---:|---:|---:|\n");
        foreach (var r in results)
            foreach (var (name, m) in r.Metrics)
                s.Append(CultureInfo.InvariantCulture, $"| {r.Task.Name} | {r.Task.Version} | {name} | {m.Value:F4} | {(double.IsNaN(m.StandardError) ? "–" : m.StandardError.ToString("F4", CultureInfo.InvariantCulture))} | {r.Samples.Count} |\n");
        return s.ToString();
    }

    /// <summary>Every document's requests and answers, one JSON object a line: what scripts/eval/check_metrics.py
    /// recomputes the metrics from.</summary>
    public static void WriteSamples(string path, IReadOnlyList<TaskResult> results) => AtomicFile.Write(path, stream =>
    {
        foreach (var r in results)
            foreach (var s in r.Samples)
            {
                using (var w = new Utf8JsonWriter(stream))
                {
                    w.WriteStartObject();
                    w.WriteString("task", r.Task.Name);
                    w.WriteNumber("doc", s.Document);
                    w.WriteNumber("line", s.Line);
                    w.WriteStartArray("loglikelihoods");
                    foreach (double v in s.LogLikelihoods) w.WriteNumberValue(v);
                    w.WriteEndArray();
                    w.WriteStartArray("is_greedy");
                    foreach (bool g in s.IsGreedy) w.WriteBooleanValue(g);
                    w.WriteEndArray();
                    w.WriteStartArray("choices");
                    foreach (string c in s.Choices) w.WriteStringValue(c);
                    w.WriteEndArray();
                    w.WriteNumber("gold", s.Gold);
                    w.WriteString("target", s.Target);
                    w.WriteString("answer", s.Answer);
                    w.WriteNumber("words", s.Words);
                    w.WriteNumber("bytes", s.Bytes);
                    w.WriteNumber("tokens", s.Tokens);
                    w.WriteEndObject();
                }
                stream.WriteByte((byte)'\n');
            }
    });

    public static string OutputTypeName(TaskOutputType t) => t switch
    {
        TaskOutputType.MultipleChoice => "multiple_choice",
        TaskOutputType.LogLikelihood => "loglikelihood",
        TaskOutputType.LogLikelihoodRolling => "loglikelihood_rolling",
        _ => "generate_until",
    };

    static void Number(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }
}
