using System.Text.Json;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>The minimal adapter-folder I/O prefix tuning, prompt tuning and bottleneck adapters share: PEFT's
/// <c>adapter_config.json</c> (a flat JSON object) beside <c>adapter_model.safetensors</c> (F32 tensors by name).
/// Kept private to these methods until the PEFT folder reader/writer of Formats/Peft replaces it.</summary>
internal static class TuningAdapterFiles
{
    public const string ConfigFile = "adapter_config.json", WeightsFile = "adapter_model.safetensors";

    /// <summary>One tensor to save: its name, the shape on disk and the row-major data.</summary>
    public readonly record struct Item(string Name, long[] Shape, float[] Data);

    /// <summary>Writes the weights, then the config, each atomically (a reader never sees a half-written file; a config
    /// only appears once its weights are complete). <paramref name="config"/>'s values: string, int, bool, float,
    /// string[] or null, written in the order given.</summary>
    public static void Write(string dir, IReadOnlyList<KeyValuePair<string, object?>> config, IReadOnlyList<Item> tensors, string weightsFile = WeightsFile)
    {
        Directory.CreateDirectory(dir);
        var items = new List<SafetensorsWriter.Item>(tensors.Count);
        foreach (var t in tensors) items.Add(SafetensorsWriter.F32(t.Name, t.Shape, t.Data));
        SafetensorsWriter.Write(Path.Combine(dir, weightsFile), items, new Dictionary<string, string> { ["format"] = "pt" });
        if (config.Count == 0) return;
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            foreach (var (key, value) in config)
            {
                switch (value)
                {
                    case null: w.WriteNull(key); break;
                    case string s: w.WriteString(key, s); break;
                    case bool b: w.WriteBoolean(key, b); break;
                    case int i: w.WriteNumber(key, i); break;
                    case float f: w.WriteNumber(key, f); break;
                    case string[] list:
                        w.WriteStartArray(key);
                        foreach (var s in list) w.WriteStringValue(s);
                        w.WriteEndArray();
                        break;
                    default: throw new ArgumentException($"adapter config: field '{key}' has an unsupported value type {value.GetType().Name}.");
                }
            }
            w.WriteEndObject();
        }
        AtomicFile.WriteAllBytes(Path.Combine(dir, ConfigFile), buffer.ToArray());
    }

    /// <summary>The parsed <c>adapter_config.json</c> of <paramref name="dir"/>, checked to be of
    /// <paramref name="peftType"/>; a missing file, bad JSON or another type is a one-line error naming the file.</summary>
    public static JsonElement ReadConfig(string dir, string peftType)
    {
        string path = Path.Combine(dir, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file (not an adapter folder).", path);
        JsonElement root;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            root = doc.RootElement.Clone();
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})."); }
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object.");
        string type = String(root, path, "peft_type");
        if (type != peftType) throw new InvalidDataException($"{path}: peft_type: '{type}', expected '{peftType}'.");
        return root;
    }

    public static string String(JsonElement root, string path, string field) =>
        root.TryGetProperty(field, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw new InvalidDataException($"{path}: {field}: missing or not a string.");

    public static string? OptionalString(JsonElement root, string field) =>
        root.TryGetProperty(field, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;

    public static int Int(JsonElement root, string path, string field) =>
        root.TryGetProperty(field, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v
            : throw new InvalidDataException($"{path}: {field}: missing or not an integer.");

    public static int? OptionalInt(JsonElement root, string path, string field)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) ? v : throw new InvalidDataException($"{path}: {field}: not an integer.");
    }

    public static bool Bool(JsonElement root, string path, string field, bool fallback)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind == JsonValueKind.Null) return fallback;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{path}: {field}: not a boolean."),
        };
    }

    public static string[] Strings(JsonElement root, string path, string field)
    {
        if (!root.TryGetProperty(field, out var e) || e.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: {field}: missing or not a list of strings.");
        var list = new List<string>();
        foreach (var item in e.EnumerateArray())
            list.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new InvalidDataException($"{path}: {field}: not a list of strings."));
        return [.. list];
    }

    /// <summary>Fails with the field, the file's value and the model's when an adapter was made for another base.</summary>
    public static void Expect(string path, string field, int actual, int expected)
    {
        if (actual != expected) throw new InvalidDataException($"{path}: {field}: {actual}, but the model needs {expected}.");
    }

    /// <summary>Copies tensor <paramref name="name"/> of <paramref name="file"/> into <paramref name="target"/>, whose
    /// on-disk shape is <paramref name="shape"/>; a missing tensor or another shape is a one-line error naming both.</summary>
    public static void ReadInto(SafetensorsFile file, string name, ReadOnlySpan<int> shape, Tensor target)
    {
        var entry = file.Entries.TryGetValue(name, out var e) ? e : throw new InvalidDataException($"{file.Path}: no tensor named '{name}'.");
        bool same = entry.Shape.Length == shape.Length;
        for (int i = 0; same && i < shape.Length; i++) same = entry.Shape[i] == shape[i];
        if (!same)
            throw new InvalidDataException($"{file.Path}: tensor '{name}' has shape ({string.Join(", ", entry.Shape)}); the model needs {Tensor.ShapeString(shape)}.");
        file.ReadFloats(name).AsSpan().CopyTo(target.AsSpan());
    }

    /// <summary>A saved tensor: a copy of <paramref name="value"/>'s data under <paramref name="name"/>.</summary>
    public static Item Of(string name, Tensor value)
    {
        var shape = new long[value.Rank];
        for (int i = 0; i < shape.Length; i++) shape[i] = value.Dim(i);
        return new Item(name, shape, value.ToArray());
    }

    /// <summary>Writes every trainable tensor under its own name (a method's training state, for resuming).</summary>
    public static void WriteState(string path, IReadOnlyList<ModelParameter> parameters)
    {
        var items = new List<SafetensorsWriter.Item>(parameters.Count);
        foreach (var p in parameters)
        {
            var item = Of(p.Name, p.Value);
            items.Add(SafetensorsWriter.F32(item.Name, item.Shape, item.Data));
        }
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["format"] = "lathe" });
    }

    /// <summary>Reads every trainable tensor written by <see cref="WriteState"/> back by name and shape.</summary>
    public static void ReadState(string path, IReadOnlyList<ModelParameter> parameters)
    {
        using var file = SafetensorsFile.Open(path);
        foreach (var p in parameters) ReadInto(file, p.Name, p.Value.Shape, p.Value);
    }

    /// <summary>A parameter tensor of the method (not the model): named, requiring a gradient.</summary>
    public static ModelParameter Parameter(string name, Tensor value, bool decay)
    {
        value.Name = name;
        value.RequiresGrad = true;
        return new ModelParameter(name, value, storedTransposed: false, decay);
    }

    /// <summary>Releases a method's parameters and their gradient buffers.</summary>
    public static void Dispose(IEnumerable<ModelParameter> parameters)
    {
        foreach (var p in parameters) { p.Value.ReleaseGrad(); p.Value.Dispose(); }
    }

    /// <summary>Fills <paramref name="values"/> like PyTorch's default nn.Linear init: U(−1/√fanIn, 1/√fanIn)
    /// (kaiming_uniform_ with a = √5 for the weight; the same bound for the bias).</summary>
    public static void LinearDefault(Philox rng, Span<float> values, int fanIn)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        rng.FillUniform(values, -bound, bound);
    }
}
