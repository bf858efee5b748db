using System.Text.Json;
using System.Text.Json.Nodes;

namespace Lathe.Formats.Peft;

/// <summary>Typed reads of adapter_config.json fields: a missing or null field gives null (the method's default
/// applies); a field of the wrong type is a one-line error naming the file and the field.</summary>
public static class PeftJson
{
    public static InvalidDataException Missing(string path, string field) => new($"{path}: {field}: missing");

    static InvalidDataException Wrong(string path, string field, JsonNode node, string expected) =>
        new($"{path}: {field}: expected {expected}, got {node.ToJsonString()}");

    public static string? String(JsonObject o, string field, string path)
    {
        var n = o[field];
        if (n is null) return null;
        return n is JsonValue v && v.TryGetValue(out string? s) ? s : throw Wrong(path, field, n, "a string");
    }

    public static double? Number(JsonObject o, string field, string path)
    {
        var n = o[field];
        if (n is null) return null;
        // Through the JSON text: a value parsed from a file and one built in code (an int, a double) read alike.
        return n is JsonValue v && v.GetValueKind() == JsonValueKind.Number
            ? double.Parse(v.ToJsonString(), System.Globalization.CultureInfo.InvariantCulture)
            : throw Wrong(path, field, n, "a number");
    }

    public static int? Integer(JsonObject o, string field, string path)
    {
        double? d = Number(o, field, path);
        if (d is null) return null;
        if (d != Math.Floor(d.Value) || d < int.MinValue || d > int.MaxValue) throw Wrong(path, field, o[field]!, "an integer");
        return (int)d.Value;
    }

    public static bool? Bool(JsonObject o, string field, string path)
    {
        var n = o[field];
        if (n is null) return null;
        return n.GetValueKind() switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Wrong(path, field, n, "true or false"),
        };
    }

    /// <summary>A list of strings, or a single string given as <paramref name="single"/> (null when absent).</summary>
    public static IReadOnlyList<string>? StringOrList(JsonObject o, string field, string path, out string? single)
    {
        single = null;
        var n = o[field];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue(out string? s)) { single = s; return null; }
        if (n is not JsonArray a) throw Wrong(path, field, n, "a string or a list of strings");
        var list = new List<string>(a.Count);
        foreach (var item in a)
            list.Add(item is JsonValue iv && iv.TryGetValue(out string? t) ? t : throw Wrong(path, field, n, "a list of strings"));
        return list;
    }

    /// <summary>True when the field is absent, null, false, an empty list or an empty object: the feature is unused.</summary>
    public static bool IsUnset(JsonObject o, string field) => o[field] switch
    {
        null => true,
        JsonArray a => a.Count == 0,
        JsonObject m => m.Count == 0,
        var n => n.GetValueKind() == JsonValueKind.False,
    };
}
