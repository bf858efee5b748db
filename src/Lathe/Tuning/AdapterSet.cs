using Lathe.Inference;
using Lathe.Models;

namespace Lathe.Tuning;

/// <summary>Named adapters of any kind loaded over one base model, one active at a time — what `serve --adapter NAME=PATH`
/// gives the <see cref="InferenceEngine"/>: LoRA / QLoRA PEFT folders, llama.cpp LoRA GGUF files, prefix tuning and
/// bottleneck adapters, each opened by <see cref="AdapterFiles.Attach"/>. <see cref="Use"/> detaches the active one and
/// attaches the next (LoRA and bottleneck adapters swap the projections' slots; prefix tuning sets its key/value rows on
/// the attention layers again): no base weight is copied or changed, and <c>Use(null)</c> is the bare base bit for bit.</summary>
/// <remarks>Prompt tuning is refused: its trained rows go before every prompt, which would shift every position of a
/// sequence the engine caches and shares. The adapters live on the model's layers, so sequences with different adapters
/// cannot run in one forward; the engine groups a step's sequences by adapter. Not thread-safe: one caller (the engine's
/// loop) switches and runs.</remarks>
public sealed class AdapterSet : IAdapterSet, IDisposable
{
    readonly Dictionary<string, ITuningMethod> _adapters = new(StringComparer.Ordinal);
    readonly List<string> _names = [];   // in the order added, for listings (/v1/models)

    public AdapterSet(LanguageModel model) => Model = model ?? throw new ArgumentNullException(nameof(model));

    /// <summary>The base every adapter was loaded over.</summary>
    public LanguageModel Model { get; }

    /// <summary>The active adapter's name, or null when the base runs alone.</summary>
    public string? Active { get; private set; }

    /// <summary>The adapters' names, in the order they were added.</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The adapter loaded under <paramref name="name"/> (its <see cref="ITuningMethod.Name"/> says what kind).</summary>
    /// <exception cref="ArgumentException">No adapter has that name.</exception>
    public ITuningMethod this[string name] => _adapters.TryGetValue(name, out var method) ? method : throw Unknown(name);

    /// <summary>Loads the adapter at <paramref name="path"/> (a PEFT folder, a fine-tuning run folder or a llama.cpp LoRA
    /// .gguf) under <paramref name="name"/>, inactive. A path that fails to load leaves the set as it was, the active
    /// adapter included.</summary>
    /// <exception cref="ArgumentException">The name is empty or already taken.</exception>
    /// <exception cref="InvalidDataException">The adapter is prompt tuning, or its files are malformed or made for
    /// another base (one line naming the file).</exception>
    public ITuningMethod Add(string name, string path)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("adapter: a name is required (NAME=PATH).");
        if (_adapters.ContainsKey(name)) throw new ArgumentException($"adapter: the name '{name}' is already taken.");
        ArgumentNullException.ThrowIfNull(path);
        string? active = Active;
        Use(null);   // loading attaches: the slots must be free
        try
        {
            var method = AdapterFiles.Attach(Model, path);
            if (method.VirtualTokens > 0)
            {
                method.Dispose();
                throw new InvalidDataException($"{path}: prompt tuning puts {method.VirtualTokens} trained rows before every prompt, which serving does not support (serve LoRA, prefix tuning or bottleneck adapters).");
            }
            method.Detach();
            _adapters[name] = method;
            _names.Add(name);
            return method;
        }
        finally { Use(active); }
    }

    /// <summary>Makes <paramref name="name"/> the active adapter (null: the base alone); a no-op when it already is.</summary>
    /// <exception cref="ArgumentException">No adapter has that name (the message lists the loaded ones); the active adapter
    /// stays as it was.</exception>
    public void Use(string? name)
    {
        if (name == Active) return;
        if (name is not null && !_adapters.ContainsKey(name)) throw Unknown(name);
        if (Active is { } current) _adapters[current].Detach();
        Active = null;
        if (name is not null)
        {
            _adapters[name].Attach();
            Active = name;
        }
    }

    ArgumentException Unknown(string name) =>
        new($"adapter: no adapter named '{name}' (loaded: {(_names.Count == 0 ? "none" : string.Join(", ", _names))}).");

    /// <summary>Detaches the active adapter and disposes every adapter; the base is left bare.</summary>
    public void Dispose()
    {
        Use(null);
        foreach (var method in _adapters.Values) method.Dispose();
        _adapters.Clear();
        _names.Clear();
    }
}
