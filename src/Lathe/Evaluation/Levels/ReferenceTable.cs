using System.Text.Json;

namespace Lathe.Evaluation.Levels;

/// <summary>The five human anchors a task's score is compared with, weakest first: an unskilled person, then the 50th,
/// 90th and 99th percentiles of skilled adults, then the best person. They map onto Levels 1–5 of Morris et al.
/// (2023): meeting <see cref="Unskilled"/> is Emerging, … meeting <see cref="P99"/> is Virtuoso, and only strictly
/// beating <see cref="Best"/> is Superhuman ("outperforms 100% of humans").</summary>
public enum Anchor
{
    Unskilled = 0,
    P50 = 1,
    P90 = 2,
    P99 = 3,
    Best = 4,
}

/// <summary>One human reference score: its value and either the source it comes from or, when
/// <see cref="Assumption"/> is set, a one-line reason for the number chosen.</summary>
public sealed record AnchorScore(double Value, string? Source, bool Assumption, string? Reason)
{
    /// <summary>"source: …" or "assumption: …", for the evidence table.</summary>
    public string Provenance => Assumption ? "assumption: " + Reason : "source: " + Source;
}

/// <summary>The human reference for one task: the family it counts for, the metric compared, the direction of that
/// metric, its chance level (null when the metric has none), the five anchors in <see cref="Anchor"/> order, and an
/// optional caveat the report prints beside the task (e.g. that common training data holds its documents).</summary>
public sealed record TaskReference(string Task, string Family, string Metric, bool HigherIsBetter, double? Chance, IReadOnlyList<AnchorScore> Anchors,
    string? Note = null)
{
    public AnchorScore this[Anchor a] => Anchors[(int)a];

    /// <summary>How many of the five anchors are assumptions rather than sourced figures.</summary>
    public int Assumptions => Anchors.Count(a => a.Assumption);
}

/// <summary>A task family ("world_knowledge") and its display title.</summary>
public sealed record TaskFamily(string Name, string Title, string? Description);

/// <summary>The reference table (<c>data/levels/references.json</c>): the task families, and for each task its family,
/// metric, chance and human anchors. Format:
/// <code>
/// { "lathe_levels_references": 1,
///   "families": { "world_knowledge": { "title": "World knowledge", "description": "…" }, … },
///   "tasks": { "country_capital": { "family": "world_knowledge", "metric": "acc", "higher_is_better": true, "chance": 0.25, "note": "…",
///     "anchors": { "unskilled": { "value": 0.45, "assumption": true, "reason": "…" }, "p50": …, "p90": …, "p99": …,
///                  "best": { "value": 1.0, "source": "…" } } }, … } }
/// </code>
/// Each anchor has a <c>source</c>, or <c>"assumption": true</c> with a <c>reason</c>; anchors must not get worse from
/// unskilled to best.</summary>
public sealed record ReferenceTable(string Path, IReadOnlyDictionary<string, TaskFamily> Families, IReadOnlyDictionary<string, TaskReference> Tasks)
{
    static readonly string[] AnchorKeys = ["unskilled", "p50", "p90", "p99", "best"];

    /// <summary>The JSON key of an anchor ("p90").</summary>
    public static string Key(Anchor a) => AnchorKeys[(int)a];

    /// <summary>The built-in table, <c>data/levels/references.json</c> in the repository that holds this program or the
    /// working folder (found by walking up to <c>Lathe.sln</c>), or null.</summary>
    public static string? FindBuiltIn() => Lathe.IO.RepoFiles.Find("data", "levels", "references.json");

    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="InvalidDataException">A field missing, of the wrong type, or anchors out of order (named).</exception>
    public static ReferenceTable Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: reference table not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static ReferenceTable Parse(string json, string name)
    {
        var f = new JsonFields(name);
        using var doc = f.Parse(json);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw f.Error("(root)", "expected a JSON object");
        long version = f.OptionalInteger(root, "lathe_levels_references", "lathe_levels_references") ?? throw f.Error("lathe_levels_references", "missing");
        if (version != 1) throw f.Error("lathe_levels_references", $"version {version} is not supported (expected 1)");

        var families = new Dictionary<string, TaskFamily>(StringComparer.Ordinal);
        foreach (var fam in f.Object(root, "families", "families").EnumerateObject())
        {
            string at = "families." + fam.Name;
            if (fam.Value.ValueKind != JsonValueKind.Object) throw f.Error(at, "expected an object");
            families[fam.Name] = new TaskFamily(fam.Name, f.String(fam.Value, "title", at + ".title"), f.OptionalString(fam.Value, "description", at + ".description"));
        }

        var tasks = new Dictionary<string, TaskReference>(StringComparer.Ordinal);
        foreach (var task in f.Object(root, "tasks", "tasks").EnumerateObject())
        {
            string at = "tasks." + task.Name;
            var t = task.Value;
            if (t.ValueKind != JsonValueKind.Object) throw f.Error(at, "expected an object");
            string family = f.String(t, "family", at + ".family");
            if (!families.ContainsKey(family)) throw f.Error(at + ".family", $"\"{family}\" is not one of the families ({string.Join(", ", families.Keys)})");
            bool higher = f.OptionalBool(t, "higher_is_better", at + ".higher_is_better", true);
            var anchorsObject = f.Object(t, "anchors", at + ".anchors");
            var anchors = new List<AnchorScore>();
            foreach (string key in AnchorKeys)
            {
                string aat = $"{at}.anchors.{key}";
                var a = f.Object(anchorsObject, key, aat);
                double value = f.Number(a, "value", aat + ".value");
                bool assumption = f.OptionalBool(a, "assumption", aat + ".assumption", false);
                string? source = f.OptionalString(a, "source", aat + ".source"), reason = f.OptionalString(a, "reason", aat + ".reason");
                if (assumption && string.IsNullOrWhiteSpace(reason)) throw f.Error(aat + ".reason", "an assumption needs a one-line reason");
                if (!assumption && string.IsNullOrWhiteSpace(source)) throw f.Error(aat, "needs a \"source\", or \"assumption\": true with a \"reason\"");
                if (anchors.Count > 0 && (higher ? value < anchors[^1].Value : value > anchors[^1].Value))
                    throw f.Error(aat + ".value", $"{value} is worse than the previous anchor ({anchors[^1].Value}); anchors go from unskilled to best");
                anchors.Add(new AnchorScore(value, source, assumption, reason));
            }
            tasks[task.Name] = new TaskReference(task.Name, family, f.String(t, "metric", at + ".metric"), higher, f.OptionalNumber(t, "chance", at + ".chance"), anchors,
                f.OptionalString(t, "note", at + ".note"));
        }
        return new ReferenceTable(name, families, tasks);
    }
}
