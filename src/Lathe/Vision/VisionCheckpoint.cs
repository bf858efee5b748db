using System.Text.Json;
using Lathe.Formats;
using Lathe.IO;
using Lathe.Models;

namespace Lathe.Vision;

/// <summary>Checkpoints of vision models: a folder with config.json (its "model_type" names the architecture) and
/// model.safetensors holding every parameter by name, written atomically. <see cref="Load"/> builds the right model
/// from <see cref="Loaders"/>, which each architecture file registers into.</summary>
public static class VisionCheckpoint
{
    /// <summary>model_type → a function that builds the model from config.json's text (weights not yet loaded).</summary>
    static readonly Dictionary<string, Func<string, IVisionModel>> Loaders = new(StringComparer.Ordinal)
    {
        // One line per architecture file.
        [Architectures.VaeModel.Type] = Architectures.VaeModel.FromConfigJson,
        [Architectures.DitModel.Type] = Architectures.DitModel.FromConfigJson,
        ["vit"] = Architectures.VitModel.FromConfigJson,
        ["clip"] = Architectures.ClipModel.FromConfigJson,
        [Architectures.CaptionerConfig.Type] = Architectures.CaptionerModel.FromConfigJson,
        [Architectures.NerfModel.Type] = Architectures.NerfModel.FromConfigJson,
        ["dcgan"] = Architectures.DcganModel.FromConfigJson,
        ["realnvp"] = Architectures.RealNvpModel.FromConfigJson,
    };

    /// <summary>Writes config.json and model.safetensors into <paramref name="dir"/>.</summary>
    public static void Save(string dir, IVisionModel model)
    {
        Directory.CreateDirectory(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, Checkpoint.ConfigFile), model.ConfigJson());
        SaveWeights(Path.Combine(dir, Checkpoint.ModelFile), model.Parameters);
    }

    /// <summary>Writes <paramref name="parameters"/> to a safetensors file by name.</summary>
    public static void SaveWeights(string path, IReadOnlyList<ModelParameter> parameters)
    {
        var items = new List<SafetensorsWriter.Item>(parameters.Count);
        foreach (var p in parameters)
            items.Add(SafetensorsWriter.F32(p.Name, p.StoredShape, Checkpoint.StoredValues(p)));   // GPT-2's Conv1D weights as (in, out)
        SafetensorsWriter.Write(path, items, new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Loads every one of <paramref name="parameters"/> from a safetensors file, checking names and shapes
    /// before copying anything; a missing or mis-shaped tensor is an error naming it.</summary>
    public static void LoadWeights(string path, IReadOnlyList<ModelParameter> parameters)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint: {path} not found");
        using var file = SafetensorsFile.Open(path);
        foreach (var p in parameters)
        {
            if (!file.Entries.TryGetValue(p.Name, out var e)) throw new InvalidDataException($"checkpoint: {path}: tensor '{p.Name}' is missing");
            if (!e.Shape.AsSpan().SequenceEqual(p.StoredShape))
                throw new InvalidDataException($"checkpoint: {path}: tensor '{p.Name}' has shape [{string.Join(", ", e.Shape)}], expected [{string.Join(", ", p.StoredShape)}]");
        }
        foreach (var p in parameters)
        {
            float[] values = file.ReadFloats(p.Name);
            if (p.StoredTransposed) Checkpoint.Transpose(values, (int)p.StoredShape[0], (int)p.StoredShape[1], p.Value.AsSpan());
            else values.CopyTo(p.Value.AsSpan());
        }
    }

    /// <summary>The "model_type" of the checkpoint in <paramref name="dir"/> (or of a run folder's checkpoint/), or null
    /// when there is no vision config there.</summary>
    public static string? ModelTypeOf(string dir)
    {
        string? config = ConfigPath(dir);
        if (config is null) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(config));
            return doc.RootElement.TryGetProperty("model_type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (JsonException e) { throw new InvalidDataException($"{config}: not valid JSON ({e.Message})"); }
    }

    /// <summary>True when <paramref name="dir"/> holds a checkpoint of a registered vision architecture.</summary>
    public static bool IsVision(string dir) => ModelTypeOf(dir) is { } t && Loaders.ContainsKey(t);

    /// <summary>Loads the model in <paramref name="dir"/> (a checkpoint folder or a run folder holding checkpoint/).</summary>
    public static IVisionModel Load(string dir)
    {
        string config = ConfigPath(dir) ?? throw new FileNotFoundException($"{dir}: no config.json (nor checkpoint/config.json)");
        string type = ModelTypeOf(dir) ?? throw new InvalidDataException($"{config}: field 'model_type' is missing");
        if (!Loaders.TryGetValue(type, out var build))
            throw new InvalidDataException($"{config}: model_type '{type}' is not a vision architecture ({string.Join(", ", Loaders.Keys)})");
        var model = build(File.ReadAllText(config));
        try { LoadWeights(Path.Combine(Path.GetDirectoryName(config)!, Checkpoint.ModelFile), model.Parameters); }
        catch { model.Dispose(); throw; }
        return model;
    }

    /// <summary>Loads a model and checks it is a <typeparamref name="T"/>, naming what was found otherwise.</summary>
    public static T Load<T>(string dir, string what) where T : class, IVisionModel
    {
        var model = Load(dir);
        if (model is T t) return t;
        string type = model.ModelType;
        model.Dispose();
        throw new InvalidDataException($"{dir}: holds a '{type}' model, not {what}");
    }

    static string? ConfigPath(string dir)
    {
        foreach (var d in new[] { dir, Path.Combine(dir, Checkpoint.Folder) })
        {
            string p = Path.Combine(d, Checkpoint.ConfigFile);
            if (File.Exists(p)) return p;
        }
        return null;
    }
}
