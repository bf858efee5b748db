using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Structure-aware damage to a JSON document: a required field deleted, a value of the wrong type, NaN,
/// Infinity or a number beyond every integer type, a duplicated key, invalid UTF-8 inside a string. The document is
/// parsed, one value chosen (half the time near the root, where the fields a reader requires live), changed, and
/// written back; what JSON itself cannot hold is spliced into the bytes in place of a marker.</summary>
internal static class JsonMutators
{
    const string Marker = "FZ7Q3MARK";
    static readonly JsonSerializerOptions Write = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Raw literals that are not JSON numbers, or numbers no reader's integer holds.</summary>
    internal static readonly string[] BadNumbers =
        ["NaN", "Infinity", "-Infinity", "1e999", "-1", "0", "2147483648", "-2147483649", "9223372036854775808", "1.5", "1e308", "-0"];

    sealed record Slot(JsonNode? Parent, string? Key, int Index, JsonNode? Value, int Depth);

    static List<Slot> Slots(JsonNode root)
    {
        var slots = new List<Slot>();
        void Visit(JsonNode? node, JsonNode? parent, string? key, int index, int depth)
        {
            if (parent is not null) slots.Add(new Slot(parent, key, index, node, depth));
            switch (node)
            {
                case JsonObject o: foreach (var (k, v) in o.ToList()) Visit(v, o, k, -1, depth + 1); break;
                case JsonArray a: for (int i = 0; i < a.Count; i++) Visit(a[i], a, null, i, depth + 1); break;
            }
        }
        Visit(root, null, null, -1, 0);
        return slots;
    }

    // Half the time a value at depth ≤ 2 (a config's fields, a tokenizer's model/added_tokens), else any value.
    static Slot? PickSlot(List<Slot> slots, Philox r, Func<Slot, bool>? where = null)
    {
        var pool = where is null ? slots : slots.Where(where).ToList();
        if (pool.Count == 0) return null;
        if (r.Chance(50)) { var shallow = pool.Where(s => s.Depth <= 2).ToList(); if (shallow.Count > 0) return r.Pick(shallow); }
        return r.Pick(pool);
    }

    static void Set(Slot s, JsonNode? value)
    {
        if (s.Parent is JsonObject o) o[s.Key!] = value;
        else ((JsonArray)s.Parent!)[s.Index] = value;
    }

    static JsonNode? Parse(byte[] b)
    {
        try { return JsonNode.Parse(b, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }); }
        catch (JsonException) { return null; }
        catch (InvalidOperationException) { return null; }
    }

    static byte[] Serialize(JsonNode root) => Encoding.UTF8.GetBytes(root.ToJsonString(Write));

    // Writes the document with the marker's first occurrence (quoted) replaced by raw bytes.
    static byte[] SpliceMarker(JsonNode root, byte[] raw)
    {
        byte[] text = Serialize(root);
        byte[] quoted = Encoding.UTF8.GetBytes($"\"{Marker}\"");
        int at = text.AsSpan().IndexOf(quoted);
        return at < 0 ? text : [.. text.AsSpan(0, at), .. raw, .. text.AsSpan(at + quoted.Length)];
    }

    static Func<byte[], Philox, byte[]> OnDocument(Func<JsonNode, List<Slot>, Philox, byte[]?> change) => (b, r) =>
    {
        if (Parse(b) is not { } root) return b;
        // JsonNode parses lazily: a duplicate key or invalid UTF-8 (an earlier mutation's) throws when first read.
        try { return change(root, Slots(root), r) ?? b; }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException) { return b; }
    };

    public static readonly Mutator DeleteField = new("json-delete-field", OnDocument((root, slots, r) =>
    {
        if (PickSlot(slots, r, s => s.Parent is JsonObject) is not { } s) return null;
        ((JsonObject)s.Parent!).Remove(s.Key!);
        return Serialize(root);
    }));

    public static readonly Mutator WrongType = new("json-wrong-type", OnDocument((root, slots, r) =>
    {
        if (PickSlot(slots, r) is not { } s) return null;
        JsonNode? replacement = r.NextInt(7) switch
        {
            0 => JsonValue.Create("wrong type"),
            1 => JsonValue.Create(r.NextInt(1000) - 500),
            2 => new JsonArray(JsonValue.Create(1), JsonValue.Create("a")),
            3 => new JsonObject { ["a"] = 1 },
            4 => null,
            5 => JsonValue.Create(r.Chance(50)),
            _ => JsonValue.Create(3.25),
        };
        Set(s, replacement);
        return Serialize(root);
    }));

    public static readonly Mutator BadNumber = new("json-bad-number", OnDocument((root, slots, r) =>
    {
        // A number's slot when there is one (counts, sizes, ids, offsets), else any value.
        var s = PickSlot(slots, r, x => x.Value is JsonValue v && v.GetValueKind() == JsonValueKind.Number) ?? PickSlot(slots, r);
        if (s is null) return null;
        Set(s, JsonValue.Create(Marker));
        return SpliceMarker(root, Encoding.ASCII.GetBytes(r.Pick(BadNumbers)));
    }));

    public static readonly Mutator DuplicateKey = new("json-duplicate-key", OnDocument((root, slots, r) =>
    {
        var objects = slots.Where(s => s.Parent is JsonObject).ToList();
        if (objects.Count == 0) return null;
        var s = PickSlot(objects, r)!;
        var parent = (JsonObject)s.Parent!;
        // The same key again, with another value of the document (or a wrong type), after the first.
        JsonNode? other = r.Chance(50) ? JsonValue.Create("duplicate") : r.Pick(slots).Value?.DeepClone();
        parent[Marker + "K"] = other;
        byte[] text = Serialize(root);
        byte[] key = Encoding.UTF8.GetBytes($"\"{Marker}K\"");
        int at = text.AsSpan().IndexOf(key);
        byte[] name = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(s.Key, Write));
        return at < 0 ? text : [.. text.AsSpan(0, at), .. name, .. text.AsSpan(at + key.Length)];
    }));

    public static readonly Mutator InvalidUtf8 = new("json-invalid-utf8", OnDocument((root, slots, r) =>
    {
        var s = PickSlot(slots, r, x => x.Value is JsonValue v && v.GetValueKind() == JsonValueKind.String);
        if (s is null) return null;
        string old = s.Value!.GetValue<string>();
        Set(s, JsonValue.Create(Marker));
        byte[] text = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(old, Write));   // quoted
        int cut = 1 + r.NextInt(text.Length - 1);
        byte[] bad = r.Pick(GgufMutators.Utf8Breakers);
        return SpliceMarker(root, [.. text.AsSpan(0, cut), .. bad, .. text.AsSpan(cut)]);
    }));

    /// <summary>An array grown to many copies of one element, or emptied (vocab lists, merges, messages).</summary>
    public static readonly Mutator ResizeArray = new("json-resize-array", OnDocument((root, slots, r) =>
    {
        var s = PickSlot(slots, r, x => x.Value is JsonArray);
        if (s is null) return null;
        var a = (JsonArray)s.Value!;
        if (a.Count == 0 || r.Chance(40)) a.Clear();
        else { var e = a[r.NextInt(a.Count)]; for (int i = 0, n = 1 + r.NextInt(64); i < n; i++) a.Add(e?.DeepClone()); }
        return Serialize(root);
    }));

    public static readonly IReadOnlyList<Mutator> All = [DeleteField, WrongType, BadNumber, DuplicateKey, InvalidUtf8, ResizeArray];
}
