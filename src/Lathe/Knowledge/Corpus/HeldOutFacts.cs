using System.Text.Json;
using Lathe.Data;

namespace Lathe.Knowledge.Corpus;

/// <summary>A (subject, relation) pair whose facts are kept out of a corpus: the question "relation of subject?" is
/// held out, so every object of the pair is left out (one left in would leak the answer of a functional relation).</summary>
public readonly record struct FactKey(string Subject, string Relation);

/// <summary>Reads the held-out list the experiment writes: JSON Lines (optionally .gz), one
/// <c>{"s":"country/FRA","p":"capital"}</c> per line (other fields, such as "o", are allowed and ignored).</summary>
public static class HeldOutFacts
{
    public static IReadOnlySet<FactKey> Read(string path)
    {
        var keys = new HashSet<FactKey>();
        foreach (var (where, text) in ChatJsonl.Lines(path))
        {
            JsonElement row;
            try { row = JsonDocument.Parse(text).RootElement.Clone(); }
            catch (JsonException e) { throw new InvalidDataException($"{where}: not JSON ({e.Message})"); }
            if (row.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected a JSON object");
            keys.Add(new FactKey(Field(row, "s", where), Field(row, "p", where)));
        }
        return keys;
    }

    static string Field(JsonElement row, string name, string where) =>
        row.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text
            ? text
            : throw new InvalidDataException($"{where}: field \"{name}\" must be a non-empty string");
}
