using System.Text;
using System.Text.Json;

namespace Lathe.Knowledge.Store;

/// <summary>Reads Lathe's JSONL graph format — one object a line, a relation, an entity or a fact:
/// <code>
/// {"relation":"capital","label":"capital","object":"entity","functional":true,"statement":"The capital of {s} is {o}.","questions":["What is the capital of {s}?"]}
/// {"entity":"country/FRA","name":"France","aliases":["French Republic"],"type":"country"}
/// {"s":"country/FRA","p":"capital","o":"city/paris-fra","source":"world-countries@5.1.0"}
/// </code>
/// A fact's <c>o</c> is an entity id or string (JSON string), a number (JSON number) or an ISO date (JSON string), as
/// its relation's <c>object</c> says. Unknown fields are errors (they are usually typos). The only lossless format.</summary>
internal static class JsonlGraphReader
{
    static readonly string[] RelationFields = ["relation", "label", "object", "functional", "statement", "questions"];
    static readonly string[] EntityFields = ["entity", "name", "aliases", "type"];
    static readonly string[] FactFields = ["s", "p", "o", "source"];

    public static void Read(Stream stream, ImportSession session)
    {
        using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        long line = 0;
        string? text;
        while (true)
        {
            try { text = reader.ReadLine(); }
            catch (DecoderFallbackException) { throw session.Error(line + 1, "not valid UTF-8"); }
            catch (InvalidDataException e) { throw session.Error(line + 1, $"cannot decompress: {e.Message}"); }
            if (text is null) break;
            line++;
            if (string.IsNullOrWhiteSpace(text)) continue;
            JsonDocument document;
            try { document = JsonDocument.Parse(text); }
            catch (JsonException e) { throw session.Error(line, $"not a JSON object: {e.Message}"); }
            using (document)
            {
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw session.Error(line, "not a JSON object");
                if (root.TryGetProperty("relation", out _)) ReadRelation(root, session, line);
                else if (root.TryGetProperty("entity", out _)) ReadEntity(root, session, line);
                else if (root.TryGetProperty("s", out _)) ReadFact(root, session, line);
                else throw session.Error(line, "expected a relation (\"relation\"), an entity (\"entity\") or a fact (\"s\",\"p\",\"o\")");
            }
        }
    }

    static void ReadRelation(JsonElement root, ImportSession session, long line)
    {
        CheckFields(root, RelationFields, "relation", session, line);
        string id = RequiredString(root, "relation", session, line);
        string kindName = RequiredString(root, "object", session, line);
        var kind = ImportSession.ParseKind(kindName) ?? throw session.Error(line, $"field 'object': \"{kindName}\" is not one of entity, string, number, date");
        bool functional = false;
        if (root.TryGetProperty("functional", out var f))
        {
            if (f.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw session.Error(line, "field 'functional' must be true or false");
            functional = f.GetBoolean();
        }
        var questions = root.TryGetProperty("questions", out var q) ? StringArray(q, "questions", session, line) : [];
        session.PutRelation(new KgRelation(id, RequiredString(root, "label", session, line), kind, functional,
            RequiredString(root, "statement", session, line), questions), line);
    }

    static void ReadEntity(JsonElement root, ImportSession session, long line)
    {
        CheckFields(root, EntityFields, "entity", session, line);
        var aliases = root.TryGetProperty("aliases", out var a) ? StringArray(a, "aliases", session, line) : [];
        session.PutEntity(new KgEntity(RequiredString(root, "entity", session, line), RequiredString(root, "name", session, line), aliases,
            RequiredString(root, "type", session, line)), line);
    }

    static void ReadFact(JsonElement root, ImportSession session, long line)
    {
        CheckFields(root, FactFields, "fact", session, line);
        string subject = RequiredString(root, "s", session, line);
        string relation = RequiredString(root, "p", session, line);
        if (!root.TryGetProperty("o", out var o)) throw session.Error(line, "missing field 'o'");
        string? source = root.TryGetProperty("source", out _) ? RequiredString(root, "source", session, line) : null;
        bool isNumber = o.ValueKind == JsonValueKind.Number;
        if (!isNumber && o.ValueKind != JsonValueKind.String) throw session.Error(line, "field 'o' must be a string or a number");
        string text = isNumber ? o.GetRawText() : o.GetString()!;
        // The usual case (relations declared first) resolves now, without a deferred closure.
        if (session.Relation(relation) is { } known) session.AddFact(subject, known, Resolve(known, text, isNumber, session, line), source, line);
        else session.AddFact(subject, relation, (rel, at) => Resolve(rel, text, isNumber, session, at), source, line);
    }

    // JSON's own types must agree with the relation: numbers are JSON numbers, everything else JSON strings.
    static Term Resolve(KgRelation relation, string text, bool isNumber, ImportSession session, long line)
    {
        if ((relation.ObjectKind == TermKind.Number) != isNumber)
            throw session.Error(line, $"relation '{relation.Id}' takes {ImportSession.Name(relation.ObjectKind)} objects, but 'o' is "
                                      + (isNumber ? $"the number {text}" : $"the string \"{text}\""));
        return session.Literal(relation.ObjectKind, text, relation.Id, line);
    }

    static void CheckFields(JsonElement root, string[] allowed, string what, ImportSession session, long line)
    {
        foreach (var property in root.EnumerateObject())
            if (Array.IndexOf(allowed, property.Name) < 0)
                throw session.Error(line, $"unknown field '{property.Name}' in a {what} line (allowed: {string.Join(", ", allowed)})");
    }

    static string RequiredString(JsonElement root, string name, ImportSession session, long line)
    {
        if (!root.TryGetProperty(name, out var value)) throw session.Error(line, $"missing field '{name}'");
        if (value.ValueKind != JsonValueKind.String) throw session.Error(line, $"field '{name}' must be a string");
        return value.GetString()!;
    }

    static List<string> StringArray(JsonElement value, string name, ImportSession session, long line)
    {
        if (value.ValueKind != JsonValueKind.Array) throw session.Error(line, $"field '{name}' must be an array of strings");
        var items = new List<string>();
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String) throw session.Error(line, $"field '{name}' must be an array of strings");
            items.Add(item.GetString()!);
        }
        return items;
    }
}
