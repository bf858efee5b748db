using System.Text.Json;

namespace Lathe.Evaluation.Levels;

/// <summary>A metric's figure and its bootstrap standard error (null when the harness gave none).</summary>
public sealed record MetricFigure(double? Value, double? Stderr);

/// <summary>One task of a results document: what the levels report needs of it.</summary>
public sealed record TaskFigures(string Name, long? Version, string OutputType, long? Documents, string? Source, double? Chance,
    IReadOnlyDictionary<string, MetricFigure> Metrics);

/// <summary>The model a results document describes.</summary>
public sealed record ModelFigures(string? Source, string? Format, string? ModelType, long? Parameters);

/// <summary>A results document as <c>lathe eval tasks --output results.json</c> writes it (lathe_eval 1, the contract in
/// the task-format brief), read for the levels report. Only the fields the report uses are required: <c>lathe_eval</c>,
/// <c>tasks</c>, and per task <c>output_type</c> and <c>metrics</c> (each metric an object with a numeric or null
/// <c>value</c>); everything else is optional.</summary>
public sealed record ResultsDocument(string Path, ModelFigures Model, IReadOnlyList<TaskFigures> Tasks)
{
    /// <summary>Reads a results file.</summary>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">Not JSON, or a field missing or of the wrong type (named with its path).</exception>
    public static ResultsDocument Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: results file not found");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Reads a results document from text; <paramref name="name"/> names it in errors.</summary>
    public static ResultsDocument Parse(string json, string name)
    {
        var f = new JsonFields(name);
        using var doc = f.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw f.Error("(root)", "expected a JSON object");
        long version = f.OptionalInteger(root, "lathe_eval", "lathe_eval") ?? throw f.Error("lathe_eval", "missing (is this a `lathe eval tasks` results file?)");
        if (version != 1) throw f.Error("lathe_eval", $"version {version} is not supported (expected 1)");

        var model = new ModelFigures(null, null, null, null);
        if (root.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.Object)
            model = new ModelFigures(f.OptionalString(m, "source", "model.source"), f.OptionalString(m, "format", "model.format"),
                f.OptionalString(m, "model_type", "model.model_type"), f.OptionalInteger(m, "parameters", "model.parameters"));

        var tasks = new List<TaskFigures>();
        foreach (var task in f.Object(root, "tasks", "tasks").EnumerateObject())
        {
            string at = "tasks." + task.Name;
            if (task.Value.ValueKind != JsonValueKind.Object) throw f.Error(at, "expected an object");
            var t = task.Value;
            var metrics = new Dictionary<string, MetricFigure>(StringComparer.Ordinal);
            foreach (var metric in f.Object(t, "metrics", at + ".metrics").EnumerateObject())
            {
                string mat = $"{at}.metrics.{metric.Name}";
                if (metric.Value.ValueKind != JsonValueKind.Object) throw f.Error(mat, "expected an object {\"value\": …, \"stderr\": …}");
                if (!metric.Value.TryGetProperty("value", out _)) throw f.Error(mat + ".value", "missing");
                metrics[metric.Name] = new MetricFigure(f.OptionalNumber(metric.Value, "value", mat + ".value"),
                    f.OptionalNumber(metric.Value, "stderr", mat + ".stderr"));
            }
            tasks.Add(new TaskFigures(task.Name, f.OptionalInteger(t, "version", at + ".version"), f.String(t, "output_type", at + ".output_type"),
                f.OptionalInteger(t, "documents", at + ".documents"), f.OptionalString(t, "source", at + ".source"),
                f.OptionalNumber(t, "chance", at + ".chance"), metrics));
        }
        return new ResultsDocument(name, model, tasks);
    }
}
