using System.Text.Json;
using Lathe.Data;

namespace Lathe.Knowledge.Experiment;

/// <summary>Reads the invented names of unanswerable questions: JSONL (optionally .gz) of <c>{"name","type"}</c>.</summary>
public static class UnknownEntityFile
{
    /// <exception cref="InvalidDataException">A malformed line or a missing field: "file:line: …".</exception>
    public static List<UnknownEntity> Read(string path)
    {
        var names = new List<UnknownEntity>();
        foreach (var (where, text) in ChatJsonl.Lines(path))
        {
            try
            {
                using var doc = JsonDocument.Parse(text);
                var o = doc.RootElement;
                string Str(string field) => o.ValueKind == JsonValueKind.Object && o.TryGetProperty(field, out var v) && v.ValueKind == JsonValueKind.String
                    && v.GetString() is { Length: > 0 } s ? s : throw new InvalidDataException($"{where}: field '{field}' must be a non-empty string");
                names.Add(new UnknownEntity(Str("name"), Str("type")));
            }
            catch (JsonException e) { throw new InvalidDataException($"{where}: not JSON ({e.Message.Split('.')[0]})"); }
        }
        return names;
    }
}
