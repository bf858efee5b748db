using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>One element of a template: a special token (by its text and id) or the slot of sequence A or B.</summary>
public sealed record TemplatePiece(string? Special, int SpecialId, char Sequence, int TypeId);

/// <summary>Hugging Face's TemplateProcessing (and BertProcessing, the same thing with fixed templates): after
/// tokenizing, the sequence(s) are laid into a template such as "[CLS] $A [SEP]" / "[CLS] $A [SEP] $B:1 [SEP]:1",
/// which also assigns the type (segment) ids. Special tokens get the empty offset (0, 0).</summary>
public sealed class TemplateProcessor
{
    public IReadOnlyList<TemplatePiece> Single { get; }
    public IReadOnlyList<TemplatePiece> Pair { get; }
    /// <summary>"TemplateProcessing" or "BertProcessing" (written back as it was read).</summary>
    public string Kind { get; }

    public TemplateProcessor(IReadOnlyList<TemplatePiece> single, IReadOnlyList<TemplatePiece> pair, string kind = "TemplateProcessing")
    {
        Single = single; Pair = pair; Kind = kind;
    }

    /// <summary>BERT's "[CLS] $A [SEP]" and "[CLS] $A [SEP] $B:1 [SEP]:1".</summary>
    public static TemplateProcessor Bert(int cls, int sep, string clsText = "[CLS]", string sepText = "[SEP]", string kind = "TemplateProcessing") => new(
        [new(clsText, cls, '\0', 0), new(null, -1, 'A', 0), new(sepText, sep, '\0', 0)],
        [new(clsText, cls, '\0', 0), new(null, -1, 'A', 0), new(sepText, sep, '\0', 0), new(null, -1, 'B', 1), new(sepText, sep, '\0', 1)],
        kind);

    /// <summary>Lays <paramref name="a"/> (and <paramref name="b"/>) into the template.</summary>
    public void Apply(List<Token> a, List<Token>? b, List<Token> output, List<int> typeIds)
    {
        foreach (var piece in b is null ? Single : Pair)
        {
            if (piece.Special is not null) { output.Add(new Token(piece.SpecialId, 0, 0)); typeIds.Add(piece.TypeId); continue; }
            var seq = piece.Sequence == 'A' ? a : b!;
            output.AddRange(seq);
            for (int i = 0; i < seq.Count; i++) typeIds.Add(piece.TypeId);
        }
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        if (Kind == "BertProcessing")
        {
            w.WriteString("type", "BertProcessing");
            var sep = Single.Last(p => p.Special is not null);
            var cls = Single.First(p => p.Special is not null);
            w.WriteStartArray("sep"); w.WriteStringValue(sep.Special); w.WriteNumberValue(sep.SpecialId); w.WriteEndArray();
            w.WriteStartArray("cls"); w.WriteStringValue(cls.Special); w.WriteNumberValue(cls.SpecialId); w.WriteEndArray();
            w.WriteEndObject();
            return;
        }
        w.WriteString("type", "TemplateProcessing");
        WriteTemplate(w, "single", Single);
        WriteTemplate(w, "pair", Pair);
        w.WriteStartObject("special_tokens");
        foreach (var p in Single.Concat(Pair).Where(p => p.Special is not null).DistinctBy(p => p.Special))
        {
            w.WriteStartObject(p.Special!);
            w.WriteString("id", p.Special);
            w.WriteStartArray("ids"); w.WriteNumberValue(p.SpecialId); w.WriteEndArray();
            w.WriteStartArray("tokens"); w.WriteStringValue(p.Special); w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }

    static void WriteTemplate(Utf8JsonWriter w, string name, IReadOnlyList<TemplatePiece> template)
    {
        w.WriteStartArray(name);
        foreach (var p in template)
        {
            w.WriteStartObject();
            w.WriteStartObject(p.Special is not null ? "SpecialToken" : "Sequence");
            w.WriteString("id", p.Special ?? p.Sequence.ToString());
            w.WriteNumber("type_id", p.TypeId);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>Reads a post_processor object; <paramref name="idOf"/> resolves a special token's text to its id.</summary>
    public static TemplateProcessor FromJson(JsonElement e, string file, Func<string, int?> idOf)
    {
        string type = JsonFields.Str(e, "type", file, "post_processor");
        if (type == "BertProcessing")
        {
            (string Text, int Id) Pair(string field)
            {
                if (!e.TryGetProperty(field, out var a) || a.ValueKind != JsonValueKind.Array || a.GetArrayLength() != 2)
                    throw new InvalidDataException($"{file}: post_processor.{field} must be [token, id].");
                return (a[0].GetString()!, a[1].GetInt32());
            }
            var sep = Pair("sep"); var cls = Pair("cls");
            return Bert(cls.Id, sep.Id, cls.Text, sep.Text, "BertProcessing");
        }
        if (type != "TemplateProcessing") throw new InvalidDataException($"{file}: post_processor.type: '{type}' is not supported (TemplateProcessing, BertProcessing).");
        var specials = new Dictionary<string, int>();
        if (e.TryGetProperty("special_tokens", out var st) && st.ValueKind == JsonValueKind.Object)
            foreach (var p in st.EnumerateObject())
                if (p.Value.TryGetProperty("ids", out var ids) && ids.ValueKind == JsonValueKind.Array && ids.GetArrayLength() == 1)
                    specials[p.Name] = ids[0].GetInt32();
        List<TemplatePiece> Read(string field)
        {
            if (!e.TryGetProperty(field, out var arr) || arr.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{file}: post_processor.{field} is missing or not an array.");
            var list = new List<TemplatePiece>();
            foreach (var item in arr.EnumerateArray())
            {
                if (item.TryGetProperty("SpecialToken", out var s))
                {
                    string id = JsonFields.Str(s, "id", file, $"post_processor.{field}.SpecialToken");
                    int tokenId = specials.TryGetValue(id, out int v) ? v : idOf(id)
                        ?? throw new InvalidDataException($"{file}: post_processor.{field}: special token '{id}' is not in the vocabulary.");
                    list.Add(new TemplatePiece(id, tokenId, '\0', s.TryGetProperty("type_id", out var t) ? t.GetInt32() : 0));
                }
                else if (item.TryGetProperty("Sequence", out var q))
                {
                    string id = JsonFields.Str(q, "id", file, $"post_processor.{field}.Sequence");
                    if (id is not ("A" or "B")) throw new InvalidDataException($"{file}: post_processor.{field}: sequence '{id}' is not A or B.");
                    list.Add(new TemplatePiece(null, -1, id[0], q.TryGetProperty("type_id", out var t) ? t.GetInt32() : 0));
                }
                else throw new InvalidDataException($"{file}: post_processor.{field}: an item is neither SpecialToken nor Sequence.");
            }
            return list;
        }
        return new TemplateProcessor(Read("single"), Read("pair"));
    }
}

/// <summary>One-line errors for tokenizer.json fields.</summary>
internal static class JsonFields
{
    public static string Str(JsonElement e, string name, string file, string where) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new InvalidDataException($"{file}: {where}.{name} is missing or not a string.");

    public static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;
}
