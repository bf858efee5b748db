using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>LoRA (Hu et al. 2021) on a model's targeted projections, through each <see cref="LinearLayer"/>'s adapter
/// slot; the base stays frozen and unchanged. Over a quantized base (<see cref="QloraMethod"/>) the same adapters train
/// through the quantized matrices' input gradient (QLoRA). Saved and loaded as a PEFT adapter folder.</summary>
/// <remarks>Usage: <c>Attach</c> (fresh: A Kaiming-uniform, B zero) or <c>Load</c> (a PEFT folder) → train with
/// <see cref="Trainable"/> → <see cref="Save"/>; <see cref="Merge"/>/<see cref="Unmerge"/> fold ΔW = s·B·A into the F32
/// base and back; <see cref="Detach"/>/<see cref="Attach()"/> take the adapters off the slots and put them back
/// (<see cref="LoraLibrary"/> switches adapters this way).</remarks>
public sealed class LoraMethod : ITuningMethod
{
    readonly List<LoraAdapter> _adapters;
    readonly List<ModelParameter> _trainable = [];

    LoraMethod(LanguageModel model, LoraConfig config, List<LoraAdapter> adapters)
    {
        Model = model; Config = config; _adapters = adapters;
        foreach (var a in adapters)
        {
            _trainable.Add(new ModelParameter(a.A.Name!, a.A, storedTransposed: false, decay: true));
            _trainable.Add(new ModelParameter(a.B.Name!, a.B, storedTransposed: false, decay: true));
        }
    }

    /// <summary>"qlora" when the adapted projections run on quantized weights, else "lora".</summary>
    public string Name => _adapters.Exists(a => a.Layer.Quantized is not null) ? "qlora" : "lora";
    public LanguageModel Model { get; }
    public LoraConfig Config { get; }
    /// <summary>The adapters in the model's layer order.</summary>
    public IReadOnlyList<LoraAdapter> Adapters => _adapters;
    /// <summary>lora_A and lora_B of every adapter (PEFT's saved key names), A then B per module.</summary>
    public IReadOnlyList<ModelParameter> Trainable => _trainable;
    public int VirtualTokens => 0;
    /// <summary>True while every adapter sits in its layer's slot.</summary>
    public bool IsAttached => _adapters.TrueForAll(a => a.Layer.Adapter == a);
    /// <summary>True after <see cref="Merge"/> until <see cref="Unmerge"/>.</summary>
    public bool IsMerged => _adapters.Count > 0 && _adapters[0].Merged;

    /// <summary>Attaches fresh adapters to the projections <paramref name="config"/> targets, initialised from
    /// <paramref name="seed"/> as PEFT does (A Kaiming-uniform with a = √5, i.e. U(±1/√in); B zero), and freezes the
    /// model's own parameters. One-line ArgumentException when the targets match nothing or a slot is taken.</summary>
    public static LoraMethod Attach(LanguageModel model, LoraConfig config, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        config.Validate();
        var layers = LoraTargets.Select(model, config);
        RequireFreeSlots(layers);
        var rng = new Philox(seed);
        var adapters = new List<LoraAdapter>(layers.Count);
        foreach (var layer in layers)
        {
            var (a, b) = NewPair(layer, config.Rank);
            switch (config.InitLoraWeights)
            {
                case "gaussian":
                    rng.FillNormal(a.AsSpan(), 0, 1f / config.Rank);
                    break;
                default:
                    // kaiming_uniform_(a=√5) on a (r, in) weight: gain √(2/(1+5)) · √(3/fan_in) = 1/√in.
                    TuningParameters.LinearDefault(rng, a.AsSpan(), layer.InFeatures);
                    break;
            }
            if (config.InitLoraWeights == "false")
                TuningParameters.LinearDefault(rng, b.AsSpan(), config.Rank);
            adapters.Add(new LoraAdapter(model, layer, a, b, config.Scaling, (float)config.Dropout));
        }
        return Install(model, config, adapters);
    }

    /// <summary>Attaches the PEFT adapter in <paramref name="dir"/> (adapter_config.json + adapter_model.safetensors)
    /// and freezes the model's own parameters. A tensor whose module the model lacks or whose shape differs from the
    /// base's is a one-line InvalidDataException naming the tensor and both shapes.</summary>
    public static LoraMethod Load(LanguageModel model, string dir)
    {
        ArgumentNullException.ThrowIfNull(model);
        var folder = PeftAdapterFolder.Read(dir);
        var config = LoraConfig.FromJson(folder.Config, folder.ConfigPath);
        IReadOnlyList<LinearLayer> layers;
        try { layers = LoraTargets.Select(model, config); }
        catch (ArgumentException e) { throw new InvalidDataException($"{folder.ConfigPath}: {e.Message}"); }
        RequireFreeSlots(layers);
        var adapters = new List<LoraAdapter>(layers.Count);
        try
        {
            foreach (var layer in layers)
            {
                var (a, b) = NewPair(layer, config.Rank);
                adapters.Add(new LoraAdapter(model, layer, a, b, config.Scaling, (float)config.Dropout));
            }
            CopyTensors(folder, model, adapters);
        }
        catch
        {
            foreach (var a in adapters) a.Dispose();
            throw;
        }
        return Install(model, config, adapters);
    }

    static LoraMethod Install(LanguageModel model, LoraConfig config, List<LoraAdapter> adapters)
    {
        // The base is frozen: LoRA trains only A and B (the trainer freezes it too; this makes a bare forward/backward agree).
        foreach (var p in model.Parameters) p.Value.RequiresGrad = false;
        var method = new LoraMethod(model, config, adapters);
        method.Attach();
        return method;
    }

    static (Tensor A, Tensor B) NewPair(LinearLayer layer, int rank)
    {
        var a = Tensor.Zeros(rank, layer.InFeatures);                           // (r, in)
        var b = Tensor.Zeros(layer.OutFeatures, rank);                          // (out, r)
        a.Name = LoraTargets.Key(layer.Name, 'A');
        b.Name = LoraTargets.Key(layer.Name, 'B');
        a.RequiresGrad = b.RequiresGrad = true;
        return (a, b);
    }

    static void RequireFreeSlots(IReadOnlyList<LinearLayer> layers)
    {
        foreach (var l in layers)
            if (l.Adapter is not null) throw new ArgumentException($"lora: '{l.Name}' already has an adapter attached; detach it first");
    }

    // Every tensor of the file must be one of the adapters' A or B with the base's shape, and every adapter must get both.
    static void CopyTensors(PeftAdapterFolder folder, LanguageModel model, List<LoraAdapter> adapters)
    {
        string file = folder.WeightsPath;
        var byKey = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var a in adapters) { byKey[a.A.Name!] = a.A; byKey[a.B.Name!] = a.B; }
        var modules = LoraTargets.LinearsOf(model).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, tensor) in folder.Tensors)
        {
            if (!byKey.TryGetValue(name, out var target))
            {
                string module = ModuleOf(name);
                throw new InvalidDataException(modules.Contains(module)
                    ? $"{file}: tensor '{name}' is for module '{module}', which target_modules do not select"
                    : $"{file}: tensor '{name}' names no LoRA matrix of this {model.Config.ModelType} model (no module '{module}')");
            }
            tensor.CopyTo(target, file);
            seen.Add(name);
        }
        foreach (var key in byKey.Keys)
            if (!seen.Contains(key)) throw new InvalidDataException($"{file}: tensor '{key}' is missing (target_modules select module '{ModuleOf(key)}')");
    }

    // base_model.model.<module>.lora_A.weight → <module>; a key of another form → the key itself.
    static string ModuleOf(string key)
    {
        const string prefix = "base_model.model.";
        string s = key.StartsWith(prefix, StringComparison.Ordinal) ? key[prefix.Length..] : key;
        foreach (var suffix in new[] { ".lora_A.weight", ".lora_B.weight" })
            if (s.EndsWith(suffix, StringComparison.Ordinal)) return s[..^suffix.Length];
        return s;
    }

    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Model is CausalLM decoder
        ? decoder.Embed(ids, B, T)
        : throw new NotSupportedException($"lora: a {Model.Config.ModelType} model has no decoder embedding");

    /// <summary>Writes PEFT's adapter_config.json and adapter_model.safetensors (lora_A (r, in), lora_B (out, r) under
    /// <c>base_model.model.&lt;module&gt;.lora_A/B.weight</c>), each atomically. all-linear is saved resolved to the
    /// module names, as PEFT saves it.</summary>
    public void Save(string dir)
    {
        var config = Config with
        {
            InferenceMode = true,
            FanInFanOut = Model.Config.ModelType == "gpt2",
            TargetModules = Config.TargetPattern == LoraConfig.AllLinear
                ? _adapters.Select(a => a.Layer.Name.Split('.')[^1]).Distinct().Order(StringComparer.Ordinal).ToList()
                : Config.TargetModules,
            TargetPattern = Config.TargetPattern == LoraConfig.AllLinear ? null : Config.TargetPattern,
        };
        var tensors = new List<PeftTensor>(2 * _adapters.Count);
        foreach (var a in _adapters)
        {
            tensors.Add(PeftTensor.Of(a.A.Name!, a.A));
            tensors.Add(PeftTensor.Of(a.B.Name!, a.B));
        }
        PeftAdapterFolder.Write(dir, config.ToJson(), tensors);
    }

    /// <summary>Reads A and B back from a folder <see cref="Save"/> wrote (a resumed run): the same rank and modules
    /// are required (one-line error naming the tensor otherwise).</summary>
    public void Load(string dir)
    {
        var folder = PeftAdapterFolder.Read(dir);
        var config = LoraConfig.FromJson(folder.Config, folder.ConfigPath);
        if (config.Rank != Config.Rank) throw new InvalidDataException($"{folder.ConfigPath}: r: {config.Rank} differs from this adapter's {Config.Rank}");
        CopyTensors(folder, Model, _adapters);
    }

    /// <summary>Puts every adapter back into its layer's slot (after <see cref="Detach"/>); a slot another method took
    /// is a one-line error, and nothing changes.</summary>
    public void Attach()
    {
        if (IsMerged) throw new InvalidOperationException("lora: the adapter is merged into the base; unmerge it before attaching it again");
        foreach (var a in _adapters)
            if (a.Layer.Adapter is not null && a.Layer.Adapter != a)
                throw new InvalidOperationException($"lora: '{a.Layer.Name}' already has another adapter attached; detach it first");
        foreach (var a in _adapters) a.Layer.Adapter = a;
    }

    /// <summary>Takes the adapters off their slots; a merged adapter is unmerged first, so the base is as it was.</summary>
    public void Detach()
    {
        if (IsMerged) Unmerge();
        foreach (var a in _adapters)
            if (a.Layer.Adapter == a) a.Layer.Adapter = null;
    }

    /// <summary>Adds s·B·A into every adapted F32 weight and clears the slots: the model then computes the adapted
    /// function at the base's cost. A quantized base is refused (one line, nothing changed): merge into the F32 model
    /// and quantize the result.</summary>
    public void Merge()
    {
        if (IsMerged) return;
        foreach (var a in _adapters)
            if (a.Layer.Quantized is not null)
                throw new InvalidOperationException($"lora merge: '{a.Layer.Name}' runs on {a.Layer.Quantized.Type} weights; merge into the F32 model, then quantize it");
        foreach (var a in _adapters)
        {
            a.MergeIntoBase();
            if (a.Layer.Adapter == a) a.Layer.Adapter = null;
        }
    }

    /// <summary>Subtracts s·B·A back out of the weights (restoring them up to one float rounding) and re-attaches the adapters.</summary>
    public void Unmerge()
    {
        if (!IsMerged) return;
        foreach (var a in _adapters) a.UnmergeFromBase();
        foreach (var a in _adapters) a.Layer.Adapter = a;
    }

    public void Dispose()
    {
        Detach();
        foreach (var a in _adapters) a.Dispose();
    }
}
