using Lathe.Models;

namespace Lathe.Tuning;

/// <summary>Several LoRA adapters loaded over one base model, one of them active at a time: <see cref="Use"/> swaps
/// the adapter slots of the projections (no weight copies), so a server can pick an adapter per request. The adapters
/// live on the model's layers, so requests with different adapters must not run at the same time on one model.</summary>
public sealed class LoraLibrary : IDisposable
{
    readonly Dictionary<string, LoraMethod> _adapters = new(StringComparer.Ordinal);

    public LoraLibrary(LanguageModel model) => Model = model ?? throw new ArgumentNullException(nameof(model));

    public LanguageModel Model { get; }
    /// <summary>The active adapter's name, or null when the base runs alone.</summary>
    public string? Active { get; private set; }
    public IReadOnlyCollection<string> Names => _adapters.Keys;

    /// <summary>Loads the PEFT adapter folder <paramref name="dir"/> under <paramref name="name"/> (inactive).</summary>
    public LoraMethod Add(string name, string dir)
    {
        RequireNewName(name);
        string? active = Active;
        Use(null);   // loading attaches; the slots must be free
        try
        {
            var method = LoraMethod.Load(Model, dir);
            method.Detach();
            _adapters[name] = method;
            return method;
        }
        finally { Use(active); }   // a folder that fails to load leaves the active adapter as it was
    }

    /// <summary>Adds an adapter already attached to <see cref="Model"/> (e.g. just trained); the library owns it from now on.</summary>
    public void Add(string name, LoraMethod method)
    {
        RequireNewName(name);
        if (method.Model != Model) throw new ArgumentException($"lora library: adapter '{name}' belongs to another model");
        method.Detach();
        _adapters[name] = method;
        if (Active is { } active) _adapters[active].Attach();
    }

    /// <summary>Makes <paramref name="name"/> the active adapter (null: the base alone). Unknown names are a one-line error.</summary>
    public void Use(string? name)
    {
        if (name == Active) return;
        if (name is not null && !_adapters.ContainsKey(name))
            throw new ArgumentException($"lora library: no adapter named '{name}' (loaded: {(_adapters.Count == 0 ? "none" : string.Join(", ", _adapters.Keys))})");
        if (Active is { } current) _adapters[current].Detach();
        Active = null;
        if (name is not null) { _adapters[name].Attach(); Active = name; }
    }

    /// <summary>Unloads an adapter (detaching it first when active).</summary>
    public void Remove(string name)
    {
        if (!_adapters.Remove(name, out var method)) throw new ArgumentException($"lora library: no adapter named '{name}'");
        if (Active == name) Active = null;
        method.Dispose();
    }

    void RequireNewName(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) throw new ArgumentException("lora library: an adapter needs a name");
        if (_adapters.ContainsKey(name)) throw new ArgumentException($"lora library: an adapter named '{name}' is already loaded");
    }

    public void Dispose()
    {
        Use(null);
        foreach (var m in _adapters.Values) m.Dispose();
        _adapters.Clear();
    }
}
