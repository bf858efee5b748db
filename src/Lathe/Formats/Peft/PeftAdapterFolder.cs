using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.IO;
using Lathe.Tensors;

namespace Lathe.Formats.Peft;

/// <summary>A Hugging Face PEFT adapter folder, for every method (LoRA, prefix and prompt tuning, bottleneck adapters):
/// <c>adapter_config.json</c> — a JSON object with a <c>peft_type</c> field and the method's own fields — and
/// <c>adapter_model.safetensors</c> — tensors by name (no adapter name inside the keys: PEFT strips
/// <c>.default</c> when it saves). This class reads and writes the two files; what the fields and tensors mean is the
/// method's business. Every error is one line naming the file (and the field or tensor).</summary>
public sealed class PeftAdapterFolder
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>The folder read from (for error messages).</summary>
    public string Directory { get; }
    /// <summary>adapter_config.json as read.</summary>
    public JsonObject Config { get; }
    /// <summary>The tensors of adapter_model.safetensors by name, in file order, widened to F32.</summary>
    public IReadOnlyDictionary<string, PeftTensor> Tensors { get; }

    PeftAdapterFolder(string directory, JsonObject config, IReadOnlyDictionary<string, PeftTensor> tensors)
    {
        Directory = directory; Config = config; Tensors = tensors;
    }

    /// <summary>peft_type ("LORA", "PREFIX_TUNING", …) upper-case.</summary>
    public string PeftType => PeftJson.RequiredString(Config, "peft_type", ConfigPath);

    public string ConfigPath => Path.Combine(Directory, ConfigFile);
    public string WeightsPath => Path.Combine(Directory, WeightsFile);

    /// <summary>Reads a folder; a missing file, invalid JSON or a safetensors error is one line naming the file. With
    /// <paramref name="peftType"/>, a folder of another type is refused (one line naming both types).</summary>
    public static PeftAdapterFolder Read(string directory, string? peftType = null)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new InvalidDataException($"{directory}: no such adapter folder (a PEFT adapter is a folder holding {ConfigFile} and {WeightsFile})");
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        var config = ReadConfig(directory);
        // The type before the weights: a folder of another method is named as such, whatever its weights are.
        if (peftType is not null) PeftJson.ExpectPeftType(config, configPath, peftType);
        if (!File.Exists(weightsPath))
            throw new InvalidDataException(File.Exists(Path.Combine(directory, "adapter_model.bin"))
                ? $"{weightsPath}: missing; adapter_model.bin (a PyTorch pickle) is not read — save the adapter with safe_serialization=True"
                : $"{weightsPath}: missing (a PEFT adapter folder holds {ConfigFile} and {WeightsFile})");
        return new PeftAdapterFolder(directory, config, ReadTensors(weightsPath));
    }

    /// <summary>adapter_config.json of <paramref name="directory"/> alone (to see its peft_type before a method reads the
    /// folder); a missing file or invalid JSON is one line naming the file.</summary>
    public static JsonObject ReadConfig(string directory)
    {
        string configPath = Path.Combine(directory, ConfigFile);
        if (!File.Exists(configPath)) throw new InvalidDataException($"{configPath}: missing (a PEFT adapter folder holds {ConfigFile} and {WeightsFile})");
        try
        {
            // A duplicated field is invalid JSON here (JsonNode would otherwise throw an ArgumentException on first read).
            return JsonNode.Parse(File.ReadAllText(configPath), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                ?? throw new InvalidDataException($"{configPath}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configPath}: invalid JSON: {e.Message.ReplaceLineEndings(" ")}");
        }
    }

    /// <summary>Every tensor of a safetensors file by name, in file order, widened to F32.</summary>
    public static IReadOnlyDictionary<string, PeftTensor> ReadTensors(string path)
    {
        var tensors = new Dictionary<string, PeftTensor>(StringComparer.Ordinal);
        using var file = SafetensorsFile.Open(path);
        foreach (var (name, entry) in file.Entries.OrderBy(e => e.Value.Begin))
        {
            var shape = new int[entry.Shape.Length];
            for (int i = 0; i < shape.Length; i++) shape[i] = checked((int)entry.Shape[i]);
            tensors[name] = new PeftTensor(name, shape, file.ReadFloats(name));
        }
        return tensors;
    }

    /// <summary>Copies tensor <paramref name="name"/> of adapter_model.safetensors into <paramref name="target"/>; a
    /// missing tensor or another shape is one line naming the file, the tensor and both shapes.</summary>
    public void ReadInto(string name, Tensor target) => CopyInto(Tensors, WeightsPath, name, target);

    /// <summary>As <see cref="ReadInto"/> for tensors read by <see cref="ReadTensors"/> from <paramref name="file"/>.</summary>
    public static void CopyInto(IReadOnlyDictionary<string, PeftTensor> tensors, string file, string name, Tensor target)
    {
        var tensor = tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"{file}: no tensor named '{name}'");
        tensor.CopyTo(target, file);
    }

    /// <summary>A required integer field of adapter_config.json (one line naming the file and field otherwise).</summary>
    public int RequiredInteger(string field) => PeftJson.RequiredInteger(Config, field, ConfigPath);

    /// <summary>Fails with the field, the file's value and <paramref name="expected"/> when an adapter was made for
    /// another base.</summary>
    public void ExpectInteger(string field, int expected) => PeftJson.ExpectInteger(Config, field, ConfigPath, expected);

    /// <summary>Writes the two files into <paramref name="directory"/> (created if missing), each atomically: the
    /// weights first, then the config (keys sorted, two-space indent, as PEFT's save_pretrained writes it), so a config
    /// only appears once its weights are complete.</summary>
    public static void Write(string directory, JsonObject config, IReadOnlyList<PeftTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config["peft_type"] is null) throw new ArgumentException("adapter config: peft_type is required");
        System.IO.Directory.CreateDirectory(directory);
        WriteTensors(Path.Combine(directory, WeightsFile), tensors);
        var sorted = new JsonObject();
        foreach (var (key, value) in config.OrderBy(p => p.Key, StringComparer.Ordinal)) sorted[key] = value?.DeepClone();
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), sorted.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>Writes <paramref name="tensors"/> as one F32 safetensors file, atomically; <paramref name="format"/> is
    /// the header's metadata "format" ("pt" as PEFT writes it; "lathe" for Lathe's own state files).</summary>
    public static void WriteTensors(string path, IReadOnlyList<PeftTensor> tensors, string format = "pt")
    {
        var items = new List<SafetensorsWriter.Item>(tensors.Count);
        foreach (var t in tensors) items.Add(SafetensorsWriter.F32(t.Name, Array.ConvertAll(t.Shape, d => (long)d), t.Values));
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["format"] = format });
    }
}
