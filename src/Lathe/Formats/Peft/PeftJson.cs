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
        if (o[field] is JsonValue v && v.TryGetValue(out string? s)) { single = s; return null; }
        return StringList(o, field, path, "a string or a list of strings");
    }

    /// <summary>A list of strings (null when absent).</summary>
    public static IReadOnlyList<string>? StringList(JsonObject o, string field, string path) => StringList(o, field, path, "a list of strings");

    static List<string>? StringList(JsonObject o, string field, string path, string expected)
    {
        var n = o[field];
        if (n is null) return null;
        if (n is not JsonArray a) throw Wrong(path, field, n, expected);
        var list = new List<string>(a.Count);
        foreach (var item in a)
            list.Add(item is JsonValue iv && iv.TryGetValue(out string? t) ? t : throw Wrong(path, field, n, "a list of strings"));
        return list;
    }

    public static int RequiredInteger(JsonObject o, string field, string path) => Integer(o, field, path) ?? throw Missing(path, field);

    public static string RequiredString(JsonObject o, string field, string path) => String(o, field, path) ?? throw Missing(path, field);

    public static IReadOnlyList<string> RequiredStringList(JsonObject o, string field, string path) => StringList(o, field, path) ?? throw Missing(path, field);

    /// <summary>A required integer field that must equal <paramref name="expected"/> — what the model (or the method
    /// being resumed) needs; otherwise one line naming the file, the field and both values.</summary>
    public static void ExpectInteger(JsonObject o, string field, string path, int expected)
    {
        int actual = RequiredInteger(o, field, path);
        if (actual != expected) throw new InvalidDataException($"{path}: {field}: {actual}, but the model needs {expected}");
    }

    /// <summary>Refuses an adapter of another method: peft_type must be <paramref name="expected"/>.</summary>
    public static void ExpectPeftType(JsonObject o, string path, string expected)
    {
        string type = RequiredString(o, "peft_type", path);
        if (type != expected) throw new InvalidDataException($"{path}: peft_type: '{type}' is not {expected} (this reader loads {expected} adapters only)");
    }

    /// <summary>A config for writing: the fields every PEFT config carries, as Lathe saves an adapter (task CAUSAL_LM,
    /// inference mode, no base model path), then the method's own <paramref name="fields"/>.</summary>
    public static JsonObject CausalLmConfig(string peftType, JsonObject fields)
    {
        var config = new JsonObject
        {
            ["peft_type"] = peftType,
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = null,
            ["inference_mode"] = true,
        };
        foreach (var (key, value) in fields) config[key] = value?.DeepClone();
        return config;
    }

    /// <summary>A JSON list of strings, for writing.</summary>
    public static JsonArray List(IEnumerable<string> items) => new(items.Select(t => (JsonNode?)JsonValue.Create(t)).ToArray());

    /// <summary>True when the field is absent, null, false, an empty list or an empty object: the feature is unused.</summary>
    public static bool IsUnset(JsonObject o, string field) => o[field] switch
    {
        null => true,
        JsonArray a => a.Count == 0,
        JsonObject m => m.Count == 0,
        var n => n.GetValueKind() == JsonValueKind.False,
    };
}
