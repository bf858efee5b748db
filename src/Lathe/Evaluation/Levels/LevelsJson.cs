using System.Text.Json;
using Lathe.IO;

namespace Lathe.Evaluation.Levels;

/// <summary>Writes an assessment as one JSON document (<c>lathe eval levels --json levels.json</c>): the cell, the
/// rules applied, per family and per task the evidence, so scripts need not read the HTML.
/// <code>
/// { "lathe_levels": 1, "framework": "Morris et al. (2023) …", "results": "results.json", "references": "…",
///   "model": { … }, "level": 1, "level_name": "Emerging", "generality": "narrow", "cell": "Emerging Narrow AI",
///   "level_reason": "…", "generality_reason": "…", "verdict": "…", "anchors_assumed": 40, "anchors_total": 45,
///   "families": [ { "family": "world_knowledge", "title": "…", "level": 0, "tasks": ["country_capital", …] } ],
///   "tasks": [ { "task": "…", "standing": "assessed" | "no_reference" | "metric_missing", "family": …, "metric": …,
///               "value": …, "stderr": …, "chance": …, "at_chance": false, "level": 0, "note": …,
///               "anchors": { "unskilled": { "value": …, "assumption": true, "reason": "…" } … } } ] }
/// </code></summary>
public static class LevelsJson
{
    public static void Write(LevelsAssessment a, string path) => AtomicFile.Write(path, s => Write(a, s));

    public static void Write(LevelsAssessment a, Stream stream)
    {
        using var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        w.WriteStartObject();
        w.WriteNumber("lathe_levels", 1);
        w.WriteString("framework", LevelsOfAgi.Citation);
        w.WriteString("results", a.Results.Path);
        w.WriteString("references", a.References.Path);
        w.WriteStartObject("model");
        WriteOptional(w, "source", a.Results.Model.Source);
        WriteOptional(w, "format", a.Results.Model.Format);
        WriteOptional(w, "model_type", a.Results.Model.ModelType);
        if (a.Results.Model.Parameters is long p) w.WriteNumber("parameters", p); else w.WriteNull("parameters");
        w.WriteEndObject();
        w.WriteNumber("level", (int)a.Level);
        w.WriteString("level_name", LevelsOfAgi.Name(a.Level));
        w.WriteString("generality", a.Generality == Generality.General ? "general" : "narrow");
        w.WriteString("cell", a.Cell);
        w.WriteString("level_reason", a.LevelReason);
        w.WriteString("generality_reason", a.GeneralityReason);
        w.WriteString("verdict", a.Verdict);
        var (assumed, total) = a.AnchorProvenance;
        w.WriteNumber("anchors_assumed", assumed);
        w.WriteNumber("anchors_total", total);

        w.WriteStartArray("families");
        foreach (var f in a.Families)
        {
            w.WriteStartObject();
            w.WriteString("family", f.Family.Name);
            w.WriteString("title", f.Family.Title);
            w.WriteNumber("level", (int)f.Level);
            w.WriteStartArray("tasks");
            foreach (var t in f.Tasks) w.WriteStringValue(t.Task);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("tasks");
        foreach (var t in a.Tasks)
        {
            w.WriteStartObject();
            w.WriteString("task", t.Task);
            w.WriteString("standing", t.Standing switch
            {
                TaskStanding.Assessed => "assessed",
                TaskStanding.NoReference => "no_reference",
                _ => "metric_missing",
            });
            WriteOptional(w, "family", t.Reference?.Family);
            WriteOptional(w, "metric", t.Reference?.Metric);
            WriteNumber(w, "value", t.Score?.Value);
            WriteNumber(w, "stderr", t.Score?.Stderr);
            WriteNumber(w, "chance", t.Chance);
            if (t.Standing == TaskStanding.Assessed)
            {
                w.WriteBoolean("at_chance", t.AtChance);
                w.WriteNumber("level", (int)t.Level);
                w.WriteBoolean("higher_is_better", t.Reference!.HigherIsBetter);
                WriteOptional(w, "note", t.Reference.Note);
                w.WriteStartObject("anchors");
                foreach (var anchor in Enum.GetValues<Anchor>())
                {
                    var s = t.Reference[anchor];
                    w.WriteStartObject(ReferenceTable.Key(anchor));
                    w.WriteNumber("value", s.Value);
                    if (s.Assumption) { w.WriteBoolean("assumption", true); w.WriteString("reason", s.Reason); }
                    else w.WriteString("source", s.Source);
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            else w.WriteNull("level");
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name); else w.WriteString(name, value);
    }

    static void WriteNumber(Utf8JsonWriter w, string name, double? value)
    {
        if (value is double v && double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }
}
