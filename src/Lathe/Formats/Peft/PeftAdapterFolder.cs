using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.IO;

namespace Lathe.Formats.Peft;

/// <summary>One tensor of an adapter: its saved name (PEFT's key, e.g.
/// <c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>), shape and float values, row-major.</summary>
public sealed record PeftTensor(string Name, int[] Shape, float[] Values);

/// <summary>A Hugging Face PEFT adapter folder, for every method (LoRA, prefix and prompt tuning, bottleneck adapters):
/// <c>adapter_config.json</c> — a JSON object with a <c>peft_type</c> field and the method's own fields — and
/// <c>adapter_model.safetensors</c> — tensors by name (no adapter name inside the keys: PEFT strips
/// <c>.default</c> when it saves). This class reads and writes the two files; what the fields and tensors mean is the
/// method's business.</summary>
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
    public string PeftType => PeftJson.String(Config, "peft_type", ConfigPath) ?? throw PeftJson.Missing(ConfigPath, "peft_type");

    public string ConfigPath => Path.Combine(Directory, ConfigFile);
    public string WeightsPath => Path.Combine(Directory, WeightsFile);

    /// <summary>Reads a folder; a missing file, invalid JSON or a safetensors error is one line naming the file.</summary>
    public static PeftAdapterFolder Read(string directory)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!System.IO.Directory.Exists(directory))
            throw new InvalidDataException($"{directory}: no such adapter folder (a PEFT adapter is a folder holding {ConfigFile} and {WeightsFile})");
        string configPath = Path.Combine(directory, ConfigFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(configPath)) throw new InvalidDataException($"{configPath}: missing (a PEFT adapter folder holds {ConfigFile} and {WeightsFile})");
        if (!File.Exists(weightsPath))
            throw new InvalidDataException(File.Exists(Path.Combine(directory, "adapter_model.bin"))
                ? $"{weightsPath}: missing; adapter_model.bin (a PyTorch pickle) is not read — save the adapter with safe_serialization=True"
                : $"{weightsPath}: missing (a PEFT adapter folder holds {ConfigFile} and {WeightsFile})");
        JsonObject config;
        try
        {
            config = JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject
                ?? throw new InvalidDataException($"{configPath}: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configPath}: invalid JSON: {e.Message}");
        }
        var tensors = new Dictionary<string, PeftTensor>(StringComparer.Ordinal);
        using (var file = SafetensorsFile.Open(weightsPath))
            foreach (var (name, entry) in file.Entries.OrderBy(e => e.Value.Begin))
            {
                var shape = new int[entry.Shape.Length];
                for (int i = 0; i < shape.Length; i++) shape[i] = checked((int)entry.Shape[i]);
                tensors[name] = new PeftTensor(name, shape, file.ReadFloats(name));
            }
        return new PeftAdapterFolder(directory, config, tensors);
    }

    /// <summary>Writes the two files into <paramref name="directory"/> (created if missing), each atomically: the
    /// weights first, then the config (keys sorted, two-space indent, as PEFT's save_pretrained writes it).</summary>
    public static void Write(string directory, JsonObject config, IReadOnlyList<PeftTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config["peft_type"] is null) throw new ArgumentException("adapter config: peft_type is required");
        System.IO.Directory.CreateDirectory(directory);
        var items = new List<SafetensorsWriter.Item>(tensors.Count);
        foreach (var t in tensors)
        {
            long[] shape = Array.ConvertAll(t.Shape, d => (long)d);
            items.Add(SafetensorsWriter.F32(t.Name, shape, t.Values));
        }
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), items, new Dictionary<string, string> { ["format"] = "pt" });
        var sorted = new JsonObject();
        foreach (var (key, value) in config.OrderBy(p => p.Key, StringComparer.Ordinal)) sorted[key] = value?.DeepClone();
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), sorted.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }
}
