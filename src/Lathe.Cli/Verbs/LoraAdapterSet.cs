using Lathe.Inference;
using Lathe.Models;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`serve`'s named adapters over the base: LoRA adapters (PEFT folders, finetune run folders, llama.cpp LoRA
/// GGUF files) in a <see cref="LoraLibrary"/>, one active at a time, as the engine asks.</summary>
/// <remarks>Interim: Tuning/AdapterSet (prefix and bottleneck adapters too) replaces it when it lands; until then the
/// other kinds are refused by name.</remarks>
internal sealed class LoraAdapterSet : IAdapterSet, IDisposable
{
    readonly LoraLibrary _library;

    LoraAdapterSet(LanguageModel model) => _library = new LoraLibrary(model);

    /// <summary>Loads each (name, path) over <paramref name="model"/>; a bad one is a one-line error naming it.</summary>
    public static LoraAdapterSet Load(LanguageModel model, IReadOnlyList<(string Name, string Path)> adapters)
    {
        var set = new LoraAdapterSet(model);
        try
        {
            foreach (var (name, path) in adapters)
            {
                var method = AdapterFiles.Attach(model, path);
                if (method is not LoraMethod lora)
                {
                    method.Detach();
                    method.Dispose();
                    throw new UserInputException($"serve: --adapter {name}={path}: a {method.Name} adapter cannot be served yet (LoRA only).");
                }
                set._library.Add(name, lora);   // detaches it until a request asks for it
            }
            return set;
        }
        catch { set.Dispose(); throw; }
    }

    public IReadOnlyCollection<string> Names => _library.Names;

    public void Use(string? name) => _library.Use(name);

    public void Dispose() => _library.Dispose();
}
