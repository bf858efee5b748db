using System.Globalization;
using System.Text;
using Lathe.IO;

namespace Lathe.Training;

/// <summary>A run's metrics: metrics.jsonl (one object per step) and the loss curves as loss.svg and
/// loss.html, rewritten atomically at every checkpoint.</summary>
public sealed class MetricsLog
{
    readonly string _dir;
    readonly List<Row> _rows = [];

    record struct Row(int Step, double Loss, double Lr, double GradNorm, double? ValLoss, long Tokens, IReadOnlyList<KeyValuePair<string, double>>? Extra = null);

    static readonly HashSet<string> Standard = ["step", "loss", "lr", "grad_norm", "val_loss", "tokens"];

    /// <summary>A fresh log for <paramref name="runDir"/> (a file left there is replaced at the first flush).</summary>
    public MetricsLog(string runDir) => _dir = runDir;

    /// <summary>For a resumed run: takes back the rows already in metrics.jsonl up to <paramref name="step"/>
    /// (rows after it were written past the checkpoint and are recomputed).</summary>
    public void ResumeAt(int step)
    {
        _rows.Clear();
        string path = Path.Combine(_dir, "metrics.jsonl");
        if (File.Exists(path))
            foreach (var line in File.ReadLines(path))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                using var doc = System.Text.Json.JsonDocument.Parse(line);
                var r = doc.RootElement;
                List<KeyValuePair<string, double>>? extra = null;
                foreach (var p in r.EnumerateObject())
                    if (!Standard.Contains(p.Name) && p.Value.ValueKind == System.Text.Json.JsonValueKind.Number)
                        (extra ??= []).Add(new(p.Name, p.Value.GetDouble()));
                _rows.Add(new Row(r.GetProperty("step").GetInt32(), r.GetProperty("loss").GetDouble(), r.GetProperty("lr").GetDouble(),
                    r.GetProperty("grad_norm").GetDouble(),
                    r.TryGetProperty("val_loss", out var v) ? v.GetDouble() : null, r.GetProperty("tokens").GetInt64(), extra));
            }
        _rows.RemoveAll(r => r.Step > step);
    }

    /// <param name="extra">An objective's own figures for the step (<see cref="Objectives.ITrainingObjective.TakeStepMetrics"/>),
    /// written as further fields of the step's line.</param>
    public void Add(int step, double loss, double lr, double gradNorm, double? valLoss, long tokens, IReadOnlyList<KeyValuePair<string, double>>? extra = null) =>
        _rows.Add(new Row(step, loss, lr, gradNorm, valLoss, tokens, extra));

    public void SetValidation(int step, double valLoss)
    {
        for (int i = _rows.Count - 1; i >= 0; i--)
            if (_rows[i].Step == step) { _rows[i] = _rows[i] with { ValLoss = valLoss }; return; }
    }

    public void Flush()
    {
        var sb = new StringBuilder();
        foreach (var r in _rows)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{{\"step\":{r.Step},\"loss\":{r.Loss:R},\"lr\":{r.Lr:R},\"grad_norm\":{r.GradNorm:R},\"tokens\":{r.Tokens}");
            if (r.ValLoss is { } v) sb.Append(CultureInfo.InvariantCulture, $",\"val_loss\":{v:R}");
            if (r.Extra is not null)
                foreach (var (name, value) in r.Extra)
                    if (double.IsFinite(value)) sb.Append(CultureInfo.InvariantCulture, $",{System.Text.Json.JsonSerializer.Serialize(name)}:{value:R}");
            sb.Append("}\n");
        }
        AtomicFile.WriteAllText(Path.Combine(_dir, "metrics.jsonl"), sb.ToString());
        var train = new List<(double, double)>();
        var val = new List<(double, double)>();
        foreach (var r in _rows)
        {
            train.Add((r.Step, r.Loss));
            if (r.ValLoss is { } v) val.Add((r.Step, v));
        }
        string svg = LossCurve.Svg(train, val);
        AtomicFile.WriteAllText(Path.Combine(_dir, "loss.svg"), svg);
        AtomicFile.WriteAllText(Path.Combine(_dir, "loss.html"),
            "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Lathe loss curve</title></head>\n<body style=\"font-family:sans-serif\">\n<h1>Loss</h1>\n"
            + svg + "\n</body></html>\n");
    }
}
