using System.Text.Json.Nodes;

namespace Lathe.Cli.KillSweep;

/// <summary>An interrupted-and-resumed run against the uninterrupted one: the same files (temporaries aside), each the
/// same bytes — except that JSON and JSONL are compared with their timing fields dropped (wall and phase seconds,
/// tokens per second, resident memory), which no two runs share.</summary>
internal static class RunComparison
{
    /// <summary>The differences, one line each naming the file (empty when the runs are the same).</summary>
    public static List<string> Differences(string reference, string resumed)
    {
        var want = Files(reference);
        var got = Files(resumed);
        var differences = new List<string>();
        foreach (string f in want.Except(got)) differences.Add($"{f}: missing");
        foreach (string f in got.Except(want)) differences.Add($"{f}: not in the uninterrupted run");
        foreach (string f in want.Intersect(got))
            if (!Same(Path.Combine(reference, f), Path.Combine(resumed, f), f)) differences.Add($"{f}: differs");
        return differences;
    }

    /// <summary>Whether a JSON field is a timing or a memory figure: "…_s", "…_ms", "seconds", "…rss…".</summary>
    public static bool IsTiming(string key) =>
        key.EndsWith("_s", StringComparison.Ordinal) || key.EndsWith("_ms", StringComparison.Ordinal) || key == "seconds" || key.Contains("rss", StringComparison.Ordinal);

    static SortedSet<string> Files(string dir)
    {
        var files = new SortedSet<string>(StringComparer.Ordinal);
        if (!Directory.Exists(dir)) return files;
        foreach (string path in Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(dir, path);
            if (!relative.Split(Path.DirectorySeparatorChar).Any(CheckpointAudit.IsTemporary)) files.Add(relative);
        }
        return files;
    }

    static bool Same(string a, string b, string name)
    {
        if (name.EndsWith(".json", StringComparison.Ordinal)) return Canonical(File.ReadAllText(a)) == Canonical(File.ReadAllText(b));
        if (name.EndsWith(".jsonl", StringComparison.Ordinal))
            return File.ReadAllLines(a).Select(Canonical).SequenceEqual(File.ReadAllLines(b).Select(Canonical));
        return File.ReadAllBytes(a).AsSpan().SequenceEqual(File.ReadAllBytes(b));
    }

    // The text without its timing fields (at any depth); text that is not JSON stays as it is (and then must match).
    static string Canonical(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "";
        try
        {
            var node = JsonNode.Parse(text);
            Strip(node);
            return node?.ToJsonString() ?? "null";
        }
        catch (System.Text.Json.JsonException) { return text; }
    }

    static void Strip(JsonNode? node)
    {
        if (node is JsonObject o)
        {
            foreach (string key in o.Select(p => p.Key).Where(IsTiming).ToList()) o.Remove(key);
            foreach (var (_, v) in o) Strip(v);
        }
        else if (node is JsonArray a) foreach (var v in a) Strip(v);
    }
}
