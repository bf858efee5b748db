using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.IO;

namespace Lathe.Evaluation.Scaling;

/// <summary>The runs file: JSONL, one run per line, <c>{"name": "s1", "parameters": 1.2e6, "tokens": 3e7,
/// "compute": 2.16e14, "loss": 3.41}</c> with <c>compute</c> optional (6·N·D when absent). Blank lines are skipped.</summary>
public static class ScalingRunsFile
{
    /// <summary>Reads every run of <paramref name="path"/>.</summary>
    /// <exception cref="InvalidDataException">A line is not a JSON object, or a field is missing, of the wrong type, or
    /// out of range; the message names the file, the line and the field.</exception>
    public static IReadOnlyList<ScalingRun> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: runs file not found");
        var runs = new List<ScalingRun>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            runs.Add(Parse(line, path, lineNumber));
        }
        if (runs.Count == 0) throw new InvalidDataException($"{path}: no runs");
        return runs;
    }

    static ScalingRun Parse(string line, string path, int lineNumber)
    {
        string where = $"{path}:{lineNumber}";
        JsonDocument document;
        try { document = JsonDocument.Parse(line); }
        catch (JsonException e) { throw new InvalidDataException($"{where}: not JSON ({e.Message})"); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object, found {root.ValueKind}");
            string name = root.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                ? n.GetString()!
                : throw new InvalidDataException($"{where}: field \"name\" {(n.ValueKind == JsonValueKind.Undefined ? "is missing" : "must be a string")}");
            double parameters = Positive(root, "parameters", where);
            double tokens = Positive(root, "tokens", where);
            double loss = Positive(root, "loss", where);
            double? compute = root.TryGetProperty("compute", out var c) && c.ValueKind != JsonValueKind.Null ? Positive(root, "compute", where) : null;
            return ScalingRun.Create(name, parameters, tokens, loss, compute);
        }
    }

    // Every number of a run enters a logarithm, so each must be finite and positive.
    static double Positive(JsonElement root, string field, string where)
    {
        if (!root.TryGetProperty(field, out var value)) throw new InvalidDataException($"{where}: field \"{field}\" is missing");
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out double x))
            throw new InvalidDataException($"{where}: field \"{field}\" must be a number, found {value.ValueKind}");
        if (!double.IsFinite(x) || x <= 0) throw new InvalidDataException($"{where}: field \"{field}\" must be positive and finite, found {x.ToString(CultureInfo.InvariantCulture)}");
        return x;
    }

    /// <summary>Writes <paramref name="runs"/> atomically, compute included, numbers round-tripping exactly.</summary>
    public static void Write(string path, IEnumerable<ScalingRun> runs)
    {
        var text = new StringBuilder();
        foreach (var run in runs)
        {
            var buffer = new MemoryStream();
            using (var w = new Utf8JsonWriter(buffer))
            {
                w.WriteStartObject();
                w.WriteString("name", run.Name);
                w.WriteNumber("parameters", run.Parameters);
                w.WriteNumber("tokens", run.Tokens);
                w.WriteNumber("compute", run.Compute);
                w.WriteNumber("loss", run.Loss);
                w.WriteEndObject();
            }
            text.Append(Encoding.UTF8.GetString(buffer.ToArray())).Append('\n');
        }
        AtomicFile.WriteAllText(path, text.ToString());
    }
}
