using System.Text.Json;

namespace Lathe.Server.OpenAi;

/// <summary>Typed reads of one JSON object of a request, each failure a 400 naming the field by its path
/// (<c>messages[2].content</c>) and saying what was expected and what came. A field given as JSON null counts as absent,
/// as the official clients send null for "not set". Fields the server does not know are ignored, as OpenAI-compatible
/// servers do, so a newer client keeps working.</summary>
internal readonly struct JsonFields
{
    readonly JsonElement _object;

    /// <summary>The object's own path ("" for the request body).</summary>
    public string Path { get; }

    JsonFields(JsonElement element, string path)
    {
        _object = element;
        Path = path;
    }

    /// <summary>The request body, which must be a JSON object.</summary>
    public static JsonFields Body(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new ApiException(400, $"request body: expected a JSON object, got {Describe(root)}.");
        return new JsonFields(root, "");
    }

    /// <summary><paramref name="element"/> at <paramref name="path"/>, which must be an object.</summary>
    public static JsonFields Of(JsonElement element, string path)
    {
        if (element.ValueKind != JsonValueKind.Object) throw ApiException.BadField(path, $"expected an object, got {Describe(element)}.");
        return new JsonFields(element, path);
    }

    /// <summary>The path of a field of this object.</summary>
    public string PathOf(string name) => Path.Length == 0 ? name : Path + "." + name;

    /// <summary>The field's value when present and not null.</summary>
    public bool TryGet(string name, out JsonElement value)
    {
        if (_object.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public bool Has(string name) => TryGet(name, out _);

    public JsonElement Required(string name) =>
        TryGet(name, out var v) ? v : throw ApiException.BadField(PathOf(name), "is required.");

    public string? String(string name) => TryGet(name, out var v) ? AsString(v, PathOf(name)) : null;

    public string RequiredString(string name) => AsString(Required(name), PathOf(name));

    public bool? Bool(string name)
    {
        if (!TryGet(name, out var v)) return null;
        if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
        throw ApiException.BadField(PathOf(name), $"expected a boolean, got {Describe(v)}.");
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double? Number(string name, double min, double max) =>
        TryGet(name, out var v) ? AsNumber(v, PathOf(name), min, max) : null;

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>] (1.0 counts as 1).</summary>
    public long? Integer(string name, long min, long max) =>
        TryGet(name, out var v) ? AsInteger(v, PathOf(name), min, max) : null;

    public int? Int(string name, int min, int max) => (int?)Integer(name, min, max);

    public JsonFields? Object(string name) => TryGet(name, out var v) ? Of(v, PathOf(name)) : null;

    /// <summary>An array field (its elements unchecked).</summary>
    public JsonElement? Array(string name)
    {
        if (!TryGet(name, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Array) throw ApiException.BadField(PathOf(name), $"expected an array, got {Describe(v)}.");
        return v;
    }

    public static string AsString(JsonElement v, string path) =>
        v.ValueKind == JsonValueKind.String ? v.GetString()! : throw ApiException.BadField(path, $"expected a string, got {Describe(v)}.");

    public static double AsNumber(JsonElement v, string path, double min, double max)
    {
        if (v.ValueKind != JsonValueKind.Number) throw ApiException.BadField(path, $"expected a number, got {Describe(v)}.");
        double x = v.GetDouble();
        if (!(x >= min && x <= max)) throw ApiException.BadField(path, $"{v.GetRawText()} is out of range; expected a number in [{min}, {max}].");
        return x;
    }

    public static long AsInteger(JsonElement v, string path, long min, long max)
    {
        if (v.ValueKind != JsonValueKind.Number) throw ApiException.BadField(path, $"expected an integer, got {Describe(v)}.");
        if (!v.TryGetInt64(out long x))
        {
            double d = v.GetDouble();
            if (d != Math.Floor(d) || d < long.MinValue || d > long.MaxValue) throw ApiException.BadField(path, $"expected an integer, got {v.GetRawText()}.");
            x = (long)d;
        }
        if (x < min || x > max) throw ApiException.BadField(path, $"{x} is out of range; expected an integer in [{min}, {max}].");
        return x;
    }

    /// <summary>"a string", "an array", … for messages about what came instead.</summary>
    public static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
