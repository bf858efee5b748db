using Lathe.Formats;
using Lathe.Inference;

namespace Lathe.Extensions.AI;

/// <summary>The model ids a client answers to: the base model's, and each adapter's name (the engine's
/// <see cref="IAdapterSet"/>), as the server lists them in /v1/models.</summary>
internal static class ModelNames
{
    /// <summary>The base model's id when none is given, by the rule the server names it by: a GGUF file's name without
    /// its extension, a folder's name (a run folder's for its checkpoint/), else "lathe".</summary>
    public static string DefaultId(LoadedModel model)
    {
        string path = Path.TrimEndingDirectorySeparator(Path.GetFullPath(model.Source));
        if (File.Exists(path)) return Path.GetFileNameWithoutExtension(path);
        string name = Path.GetFileName(path);
        if (name is Checkpoint.Folder or Checkpoint.Folder + ".old") name = Path.GetFileName(Path.GetDirectoryName(path)) ?? name;
        return string.IsNullOrEmpty(name) ? "lathe" : name;
    }

    /// <summary>The adapter <paramref name="requested"/> selects: null for the base (or no model id), the adapter's name
    /// for one of the engine's adapters.</summary>
    /// <exception cref="ArgumentException">Neither the base nor a loaded adapter has that id (the message lists them).</exception>
    public static string? Adapter(InferenceEngine engine, string baseId, string? requested, string field)
    {
        if (requested is null || requested == baseId) return null;
        if (engine.Adapters?.Names.Contains(requested) == true) return requested;
        var known = new List<string> { baseId };
        if (engine.Adapters is { } adapters) known.AddRange(adapters.Names);
        throw new ArgumentException($"{field}: no model named '{requested}' (this client serves {string.Join(", ", known)}).");
    }
}
