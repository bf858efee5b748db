using System.Text.Json;

namespace Lathe.Evaluation.Reports;

/// <summary>One row of a run's metrics.jsonl (see Training/MetricsLog).</summary>
public sealed record MetricsRow(int Step, double Loss, double Lr, double GradNorm, long Tokens, double? ValLoss);

/// <summary>Reads a run's metrics.jsonl, the log MetricsLog writes: one JSON object per line with step, loss, lr,
/// grad_norm, tokens and, at evaluation steps, val_loss. A bad line is an error naming the file, the line and the
/// field.</summary>
public static class TrainingMetrics
{
    /// <exception cref="InvalidDataException">A line that is not a JSON object, or a field missing or not a number.</exception>
    public static IReadOnlyList<MetricsRow> Load(string path)
    {
        var rows = new List<MetricsRow>();
        int number = 0;
        foreach (string line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException) { throw new InvalidDataException($"{path}: line {number}: not a JSON object"); }
            using (doc)
            {
                var r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: line {number}: not a JSON object");
                double Number(string field)
                {
                    if (!r.TryGetProperty(field, out var v)) throw new InvalidDataException($"{path}: line {number}: {field}: missing");
                    if (v.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"{path}: line {number}: {field}: expected a number");
                    return v.GetDouble();
                }
                double? val = r.TryGetProperty("val_loss", out var vl) && vl.ValueKind != JsonValueKind.Null ? Number("val_loss") : null;
                rows.Add(new MetricsRow((int)Number("step"), Number("loss"), Number("lr"), Number("grad_norm"), (long)Number("tokens"), val));
            }
        }
        return rows;
    }
}
