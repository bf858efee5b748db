using System.Text.Json;

namespace Lathe.Evaluation.Levels;

/// <summary>Reads fields of a JSON document with errors that name the file and the field's path
/// (<c>results.json: tasks.spam_ham.metrics.acc.value: expected a number, got "high"</c>), so a bad input file is one
/// line to fix rather than a stack trace.</summary>
internal readonly record struct JsonFields(string File)
{
    public InvalidDataException Error(string path, string message) => new($"{File}: {path}: {message}");

    public JsonElement Object(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value)) throw Error(path, "missing");
        if (value.ValueKind != JsonValueKind.Object) throw Error(path, $"expected an object, got {Describe(value)}");
        return value;
    }

    public string String(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value)) throw Error(path, "missing");
        if (value.ValueKind != JsonValueKind.String) throw Error(path, $"expected a string, got {Describe(value)}");
        return value.GetString()!;
    }

    public string? OptionalString(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Error(path, $"expected a string, got {Describe(value)}");
        return value.GetString();
    }

    public double Number(JsonElement parent, string name, string path) =>
        OptionalNumber(parent, name, path) ?? throw Error(path, parent.TryGetProperty(name, out _) ? "expected a number, got null" : "missing");

    public double? OptionalNumber(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number) throw Error(path, $"expected a number, got {Describe(value)}");
        return value.GetDouble();
    }

    public long? OptionalInteger(JsonElement parent, string name, string path)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long n)) throw Error(path, $"expected an integer, got {Describe(value)}");
        return n;
    }

    public bool OptionalBool(JsonElement parent, string name, string path, bool fallback)
    {
        if (!parent.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return fallback;
        if (value.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Error(path, $"expected true or false, got {Describe(value)}");
        return value.GetBoolean();
    }

    /// <summary>Parses the whole text; a syntax error names the file and line.</summary>
    public JsonDocument Parse(string text)
    {
        try { return JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{File}: line {(e.LineNumber ?? 0) + 1}: not valid JSON ({FirstSentence(e.Message)})"); }
    }

    static string FirstSentence(string message)
    {
        int dot = message.IndexOf(". ", StringComparison.Ordinal);
        return dot > 0 ? message[..dot] : message;
    }

    static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => $"\"{Truncate(value.GetString()!)}\"",
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.Null => "null",
        _ => value.GetRawText(),
    };

    static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
