using System.Text.Json;

namespace Lathe.Tests.Inference.Constraints;

/// <summary>An independent check of a JSON value against the schema subset the constraint compiler supports, written
/// straight from the JSON Schema rules (not from the grammar): type, properties / required / additionalProperties,
/// items / minItems / maxItems, enum, const, anyOf, local $ref. Returns the first violation, or null.</summary>
static class SchemaValidator
{
    public static string? Check(JsonElement value, JsonElement schema) => Check(value, schema, schema, "$");

    static string? Check(JsonElement value, JsonElement schema, JsonElement root, string at)
    {
        if (schema.ValueKind == JsonValueKind.True) return null;
        if (schema.TryGetProperty("$ref", out var r)) return Check(value, Resolve(root, r.GetString()!), root, at);
        if (schema.TryGetProperty("anyOf", out var anyOf))
            return anyOf.EnumerateArray().Any(s => Check(value, s, root, at) is null) ? null : $"{at}: matches no anyOf option";
        if (schema.TryGetProperty("const", out var c) && !JsonElement.DeepEquals(c, value)) return $"{at}: not the const";
        if (schema.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => JsonElement.DeepEquals(x, value))) return $"{at}: not in the enum";
        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToArray() : [type.GetString()!];
            if (!types.Any(t => OfType(value, t))) return $"{at}: {value.ValueKind} is not {string.Join("|", types)}";
        }
        if (value.ValueKind == JsonValueKind.Object)
        {
            var props = schema.TryGetProperty("properties", out var p) ? p : default;
            if (schema.TryGetProperty("required", out var req))
                foreach (var name in req.EnumerateArray())
                    if (!value.TryGetProperty(name.GetString()!, out _)) return $"{at}: required '{name.GetString()}' missing";
            foreach (var member in value.EnumerateObject())
            {
                if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(member.Name, out var ps))
                {
                    if (Check(member.Value, ps, root, $"{at}.{member.Name}") is { } error) return error;
                }
                else if (schema.TryGetProperty("additionalProperties", out var extra))
                {
                    if (extra.ValueKind == JsonValueKind.False) return $"{at}: additional property '{member.Name}'";
                    if (Check(member.Value, extra, root, $"{at}.{member.Name}") is { } error) return error;
                }
            }
        }
        if (value.ValueKind == JsonValueKind.Array)
        {
            int n = value.GetArrayLength();
            if (schema.TryGetProperty("minItems", out var min) && n < min.GetInt32()) return $"{at}: {n} items < minItems";
            if (schema.TryGetProperty("maxItems", out var max) && n > max.GetInt32()) return $"{at}: {n} items > maxItems";
            if (schema.TryGetProperty("items", out var items))
                for (int i = 0; i < n; i++)
                    if (Check(value[i], items, root, $"{at}[{i}]") is { } error) return error;
        }
        return null;
    }

    static bool OfType(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && decimal.TryParse(v.GetRawText(), System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out decimal d) && d == decimal.Truncate(d),
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => throw new ArgumentException(type),
    };

    static JsonElement Resolve(JsonElement root, string pointer)
    {
        var node = root;
        if (pointer == "#") return node;
        foreach (string part in pointer[2..].Split('/')) node = node.GetProperty(part.Replace("~1", "/").Replace("~0", "~"));
        return node;
    }
}
