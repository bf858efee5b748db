using System.Text.Json;
using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.IO;
using Lathe.Tuning;

namespace Lathe.Alignment;

/// <summary>A model an align verb wrote (or any model folder or GGUF file), opened for use: a run whose checkpoint is a
/// whole model loads as it is; a run trained with a parameter-efficient method holds only its adapter, so its
/// align.json names the base, which is loaded and the adapter attached. A reward model's head comes with it.</summary>
public sealed class AlignedModel : IDisposable
{
    /// <summary>The settings file every align run writes: the method, the base it started from, the chat template.</summary>
    public const string SettingsFile = "align.json";

    AlignedModel(LoadedModel loaded, ITuningMethod? adapter, string? template)
    {
        Loaded = loaded; Adapter = adapter; Template = template;
    }

    public LoadedModel Loaded { get; }
    /// <summary>The attached adapter, or null for a whole model.</summary>
    public ITuningMethod? Adapter { get; }
    /// <summary>The chat template the run was trained with, when it recorded one.</summary>
    public string? Template { get; }

    /// <summary>Opens <paramref name="path"/>: a model folder, run folder or GGUF file. <paramref name="dequantize"/>
    /// as <see cref="LoadOptions.Dequantize"/>.</summary>
    public static AlignedModel Open(string path, bool dequantize = true)
    {
        var settings = ReadSettings(path);
        string? template = settings?["template"]?.GetValue<string>();
        string checkpoint = Path.Combine(path, Checkpoint.Folder);
        bool adapterRun = settings?["base"] is not null && Directory.Exists(checkpoint) && !File.Exists(Path.Combine(checkpoint, Checkpoint.ModelFile));
        if (!adapterRun) return new AlignedModel(ModelLoader.Load(path, new LoadOptions { Dequantize = dequantize }), null, template);
        string basePath = settings!["base"]!.GetValue<string>();
        var loaded = ModelLoader.Load(basePath, new LoadOptions { Dequantize = dequantize });
        try { return new AlignedModel(loaded, AdapterFiles.Attach(loaded.Model, checkpoint), template); }
        catch { loaded.Dispose(); throw; }
    }

    /// <summary>align.json of a run folder, or null when <paramref name="path"/> is not one.</summary>
    public static JsonObject? ReadSettings(string path)
    {
        string file = Path.Combine(path, SettingsFile);
        if (!File.Exists(file)) return null;
        try { return JsonNode.Parse(File.ReadAllText(file)) as JsonObject ?? throw new InvalidDataException($"{file}: not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{file}: {e.Message}"); }
    }

    /// <summary>Writes align.json into <paramref name="runDir"/> atomically.</summary>
    public static void WriteSettings(string runDir, JsonObject settings)
    {
        Directory.CreateDirectory(runDir);
        AtomicFile.WriteAllText(Path.Combine(runDir, SettingsFile), settings.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>The folder holding the run's trained files (its checkpoint/), or the path itself.</summary>
    public static string FilesOf(string path)
    {
        string checkpoint = Path.Combine(path, Checkpoint.Folder);
        return Directory.Exists(checkpoint) ? checkpoint : path;
    }

    public void Dispose()
    {
        Adapter?.Dispose();
        Loaded.Dispose();
    }
}
