using System.Text.Json;

namespace Lathe.Inference.Constraints;

/// <summary>Compiles a JSON Schema (the subset OpenAI's structured outputs accept) into rules of a
/// <see cref="JsonGrammar"/> whose sentences are exactly JSON texts valid against it, or a valid subset of them.</summary>
/// <remarks>
/// Supported: <c>type</c> (one name or an array of names, so <c>["string","null"]</c> is nullable), object
/// <c>properties</c> / <c>required</c> / <c>additionalProperties</c>, array <c>items</c> / <c>minItems</c> /
/// <c>maxItems</c>, <c>enum</c>, <c>const</c>, <c>anyOf</c>, <c>$ref</c> to a local JSON pointer (<c>#</c>,
/// <c>#/$defs/…</c>, <c>#/definitions/…</c>; recursion included) and <c>$defs</c>/<c>definitions</c>. Annotations
/// (title, description, default, examples, …) are ignored. Any other keyword is refused with a one-line
/// <see cref="ArgumentException"/> naming the schema path, rather than silently not enforced.
/// <para>Objects: properties are written in the schema's order; a required property must appear, an optional one
/// may be left out (never reordered). Properties the schema does not declare are never written, whatever
/// additionalProperties says (a valid subset); an object with no declared properties and additionalProperties a
/// schema (or absent / true) is a map whose values follow that schema (or are any JSON).</para>
/// <para>Integers are written without fraction or exponent; numbers in full JSON syntax. A value with
/// <c>enum</c>/<c>const</c> is written in <see cref="JsonLiteral"/>'s compact spelling.</para>
/// </remarks>
internal sealed class JsonSchemaCompiler
{
    static readonly HashSet<string> Annotations =
        ["title", "description", "default", "examples", "$comment", "$schema", "$id", "deprecated", "readOnly", "writeOnly"];
    static readonly HashSet<string> Keywords =
        ["type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const", "anyOf", "$ref", "$defs", "definitions"];
    static readonly string[] TypeNames = ["object", "array", "string", "number", "integer", "boolean", "null"];
    const int MaxItemsBound = 10_000;

    readonly JsonGrammar _json;
    readonly JsonElement _root;
    readonly string _rootPath;
    readonly Dictionary<string, int> _refs = new(StringComparer.Ordinal);
    // $refs being compiled since the last object or array: meeting one again would be left recursion (a value
    // defined as itself before any byte), which no output can satisfy.
    HashSet<string> _unguarded = new(StringComparer.Ordinal);
    int _names;

    JsonSchemaCompiler(JsonGrammar json, JsonElement root, string rootPath)
    {
        _json = json;
        _root = root;
        _rootPath = rootPath;
    }

    /// <summary>The rule of the values valid against <paramref name="schema"/>; <paramref name="path"/> names the schema
    /// in error messages (e.g. "response_format.json_schema.schema").</summary>
    public static int Compile(JsonGrammar json, JsonElement schema, string path) => new JsonSchemaCompiler(json, schema, path).Value(schema, path);

    GrammarBuilder G => _json.Builder;
    string Name(string what) => $"{what}#{_names++}";
    static Symbol R(int rule) => Symbol.Ref(rule);

    int Value(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True) return _json.AnyValue;
        if (schema.ValueKind == JsonValueKind.False) throw new ArgumentException($"{path}: the schema false admits no value.");
        if (schema.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{path}: a schema must be an object or a boolean, not {Kind(schema)}.");
        var present = new List<string>();
        foreach (var p in schema.EnumerateObject())
        {
            if (Annotations.Contains(p.Name)) continue;
            if (!Keywords.Contains(p.Name)) throw new ArgumentException($"{path}: keyword '{p.Name}' is not supported.");
            present.Add(p.Name);
        }
        foreach (string defs in (string[])["$defs", "definitions"])
            if (schema.TryGetProperty(defs, out var d) && d.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"{path}.{defs}: must be an object of schemas, not {Kind(d)}.");
        present.RemoveAll(k => k is "$defs" or "definitions");

        if (schema.TryGetProperty("$ref", out var reference))
        {
            Alone(present, "$ref", path);
            return Ref(reference, path + ".$ref");
        }
        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            Alone(present, "anyOf", path);
            if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0)
                throw new ArgumentException($"{path}.anyOf: must be a non-empty array of schemas.");
            var alternatives = new List<Symbol[]>();
            int i = 0;
            foreach (var option in anyOf.EnumerateArray()) alternatives.Add([R(Value(option, $"{path}.anyOf[{i++}]"))]);
            return G.Rule(Name("anyOf"), [.. alternatives]);
        }
        var types = Types(schema, path);
        if (schema.TryGetProperty("enum", out _) || schema.TryGetProperty("const", out _)) return Enum(schema, present, types, path);

        if (types is null)
        {
            // No type: the keywords present say which kinds of value they constrain; none → any value.
            bool objectLike = present.Any(k => k is "properties" or "required" or "additionalProperties");
            bool arrayLike = present.Any(k => k is "items" or "minItems" or "maxItems");
            if (!objectLike && !arrayLike) return _json.AnyValue;
            types = [.. objectLike ? ["object"] : System.Array.Empty<string>(), .. arrayLike ? ["array"] : System.Array.Empty<string>()];
        }
        var rules = new List<Symbol[]>();
        foreach (string type in types)
        {
            int rule = type switch
            {
                "object" => Object(schema, path),
                "array" => Array(schema, path),
                "string" => _json.String,
                "number" => _json.Number,
                "integer" => types.Contains("number") ? -1 : _json.Integer,   // a number already covers it
                "boolean" => _json.Boolean,
                _ => _json.Null,
            };
            if (rule >= 0) rules.Add([R(rule)]);
        }
        return rules.Count == 1 ? rules[0][0].Rule : G.Rule(Name("types"), [.. rules]);
    }

    static void Alone(List<string> present, string keyword, string path)
    {
        foreach (string other in present)
            if (other != keyword) throw new ArgumentException($"{path}: keyword '{keyword}' cannot be combined with '{other}'.");
    }

    static string[]? Types(JsonElement schema, string path)
    {
        if (!schema.TryGetProperty("type", out var type)) return null;
        string[] names = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array when type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToArray(),
            _ => throw new ArgumentException($"{path}.type: must be a type name or a non-empty array of type names."),
        };
        foreach (string name in names)
            if (!TypeNames.Contains(name)) throw new ArgumentException($"{path}.type: '{name}' is not one of {string.Join(", ", TypeNames)}.");
        return names;
    }

    int Ref(JsonElement reference, string path)
    {
        if (reference.ValueKind != JsonValueKind.String) throw new ArgumentException($"{path}: must be a string.");
        string target = reference.GetString()!;
        if (!target.StartsWith('#')) throw new ArgumentException($"{path}: '{target}' is not a local reference (only '#…' JSON pointers are supported).");
        if (_unguarded.Contains(target)) throw new ArgumentException($"{path}: '{target}' refers back to itself before any object or array, so no value can satisfy it.");
        if (_refs.TryGetValue(target, out int known)) return known;
        var (schema, schemaPath) = Resolve(target, path);
        int rule = G.Declare(Name("ref " + target));
        _refs.Add(target, rule);
        _unguarded.Add(target);
        G.Define(rule, [R(Value(schema, schemaPath))]);
        _unguarded.Remove(target);
        return rule;
    }

    // RFC 6901: "#" then "/"-separated tokens, "~1" = "/", "~0" = "~".
    (JsonElement Schema, string Path) Resolve(string target, string path)
    {
        var node = _root;
        string where = _rootPath;
        if (target.Length > 1)
        {
            if (target[1] != '/') throw new ArgumentException($"{path}: '{target}' is not a JSON pointer ('#/…').");
            foreach (string raw in target[2..].Split('/'))
            {
                string token = raw.Replace("~1", "/").Replace("~0", "~");
                if (node.ValueKind == JsonValueKind.Object && node.TryGetProperty(token, out var child)) node = child;
                else if (node.ValueKind == JsonValueKind.Array && int.TryParse(token, out int index) && index >= 0 && index < node.GetArrayLength()) node = node[index];
                else throw new ArgumentException($"{path}: '{target}' does not resolve in the schema.");
                where += "." + token;
            }
        }
        return (node, where);
    }

    int Enum(JsonElement schema, List<string> present, string[]? types, string path)
    {
        foreach (string other in present)
            if (other is not ("enum" or "const" or "type"))
                throw new ArgumentException($"{path}: keyword '{(present.Contains("enum") ? "enum" : "const")}' cannot be combined with '{other}'.");
        var values = new List<JsonElement>();
        if (schema.TryGetProperty("enum", out var e))
        {
            if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0) throw new ArgumentException($"{path}.enum: must be a non-empty array.");
            values.AddRange(e.EnumerateArray());
        }
        if (schema.TryGetProperty("const", out var c))
        {
            // const and enum together: the const, if the enum has it (compared by spelling).
            string spelled = Convert.ToHexString(JsonLiteral.Bytes(c));
            if (values.Count > 0 && !values.Any(v => Convert.ToHexString(JsonLiteral.Bytes(v)) == spelled))
                throw new ArgumentException($"{path}: 'const' is not among the 'enum' values, so no value can satisfy both.");
            values = [c];
        }
        if (types is not null) values.RemoveAll(v => !types.Any(t => IsOfType(v, t)));
        if (values.Count == 0) throw new ArgumentException($"{path}: no 'enum'/'const' value is of the schema's 'type'.");
        var alternatives = values.Select(JsonLiteral.Bytes).DistinctBy(Convert.ToHexString).Select(b => Symbol.Bytes(b)).ToArray();
        return G.Rule(Name("enum"), alternatives);
    }

    static bool IsOfType(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && Math.Floor(d) == d,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        _ => v.ValueKind == JsonValueKind.Null,
    };

    int Object(JsonElement schema, string path)
    {
        var saved = _unguarded;
        _unguarded = new(StringComparer.Ordinal);
        try { return ObjectBody(schema, path); }
        finally { _unguarded = saved; }
    }

    int ObjectBody(JsonElement schema, string path)
    {
        var properties = new List<(string Name, JsonElement Schema)>();
        if (schema.TryGetProperty("properties", out var props))
        {
            if (props.ValueKind != JsonValueKind.Object) throw new ArgumentException($"{path}.properties: must be an object of schemas.");
            foreach (var p in props.EnumerateObject()) properties.Add((p.Name, p.Value));
        }
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (schema.TryGetProperty("required", out var req))
        {
            if (req.ValueKind != JsonValueKind.Array || req.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
                throw new ArgumentException($"{path}.required: must be an array of property names.");
            foreach (var r in req.EnumerateArray())
            {
                string name = r.GetString()!;
                if (!properties.Any(p => p.Name == name)) throw new ArgumentException($"{path}.required: '{name}' is not in properties.");
                required.Add(name);
            }
        }
        JsonElement? additional = schema.TryGetProperty("additionalProperties", out var a) ? a : null;
        if (additional is { } extra && extra.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Object))
            throw new ArgumentException($"{path}.additionalProperties: must be a boolean or a schema.");
        int ws = _json.Whitespace;

        if (properties.Count == 0)
        {
            if (additional is { ValueKind: JsonValueKind.False }) return G.Rule(Name("empty-object"), [.. JsonGrammar.Lit("{"), R(ws), .. JsonGrammar.Lit("}")]);
            int value = additional is { ValueKind: JsonValueKind.Object } s ? Value(s, path + ".additionalProperties") : _json.AnyValue;
            return _json.ObjectOf(_json.String, value, Name("map"));
        }

        // first[i]: properties i.. with none written yet; after[i]: the same once one was (each then follows a comma).
        int n = properties.Count;
        var member = new Symbol[n][];
        for (int i = 0; i < n; i++)
        {
            var (name, propertySchema) = properties[i];
            int value = Value(propertySchema, $"{path}.properties.{name}");
            member[i] = [.. Symbol.Bytes(JsonLiteral.String(name)), R(ws), .. JsonGrammar.Lit(":"), R(ws), R(value), R(ws)];
        }
        int after = G.Epsilon(Name("after-last")), first = G.Epsilon(Name("none-left"));
        for (int i = n - 1; i >= 0; i--)
        {
            bool optional = !required.Contains(properties[i].Name);
            Symbol[] withComma = [.. JsonGrammar.Lit(","), R(ws), .. member[i], R(after)];
            Symbol[] asFirst = [.. member[i], R(after)];
            first = optional ? G.Rule(Name("first"), asFirst, [R(first)]) : G.Rule(Name("first"), asFirst);
            after = optional ? G.Rule(Name("after"), withComma, [R(after)]) : G.Rule(Name("after"), withComma);
        }
        return G.Rule(Name("object"), [.. JsonGrammar.Lit("{"), R(ws), R(first), .. JsonGrammar.Lit("}")]);
    }

    int Array(JsonElement schema, string path)
    {
        var saved = _unguarded;
        _unguarded = new(StringComparer.Ordinal);
        try { return ArrayBody(schema, path); }
        finally { _unguarded = saved; }
    }

    int ArrayBody(JsonElement schema, string path)
    {
        int min = Count(schema, "minItems", path) ?? 0;
        int? max = Count(schema, "maxItems", path);
        if (max < min) throw new ArgumentException($"{path}: minItems {min} is above maxItems {max}.");
        int item;
        if (!schema.TryGetProperty("items", out var items) || items.ValueKind == JsonValueKind.True) item = _json.AnyValue;
        else if (items.ValueKind == JsonValueKind.False)
        {
            if (min > 0) throw new ArgumentException($"{path}: items false admits no item but minItems is {min}.");
            max = 0;
            item = -1;
        }
        else if (items.ValueKind == JsonValueKind.Object) item = Value(items, path + ".items");
        else throw new ArgumentException($"{path}.items: must be a schema (tuple forms are not supported).");
        return _json.ArrayOf(item, min, max ?? -1, Name("array"));
    }

    static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var v)) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int count) || count < 0)
            throw new ArgumentException($"{path}.{keyword}: must be a non-negative integer.");
        if (count > MaxItemsBound) throw new ArgumentException($"{path}.{keyword}: {count} is above the supported {MaxItemsBound}.");
        return count;
    }

    static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();
}
