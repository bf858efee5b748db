using System.Text.Json.Nodes;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>The bottleneck's non-linearity.</summary>
public enum BottleneckActivation
{
    /// <summary>Exact (erf) GELU, PyTorch's nn.GELU().</summary>
    Gelu,
    Relu,
}

/// <summary>Settings of <see cref="BottleneckAdapters"/>.</summary>
public sealed record BottleneckConfig
{
    /// <summary>m: the bottleneck width.</summary>
    public int BottleneckSize { get; init; } = 64;
    public BottleneckActivation Activation { get; init; } = BottleneckActivation.Gelu;
}

/// <summary>Houlsby bottleneck adapters (Houlsby et al. 2019, "Parameter-Efficient Transfer Learning for NLP"): after
/// each block's attention output projection and after its MLP output projection (gpt2 attn.c_proj and mlp.c_proj,
/// llama self_attn.o_proj and mlp.down_proj, bert attention.output.dense and output.dense), before the residual add, a
/// small residual MLP
/// out = y + W_up·act(W_down·y + b_down) + b_up with W_down (m, C), W_up (C, m). They attach through each projection's
/// <see cref="LinearLayer.Adapter"/> slot; the base stays frozen.</summary>
/// <remarks>
/// <para>BERT is post-LN: each sub-layer ends LayerNorm(x + Dropout(dense(h))). The adapter acts on dense's output, so it
/// sits before the residual add and the LayerNorm — where the paper puts it (its Figure 2). Hugging Face's adapter
/// libraries apply the sub-layer's dropout before the adapter; here it comes after (the slot wraps the projection), which
/// only moves where training noise enters.</para>
/// <para>Initialisation (the paper's near-identity start): W_up and b_up are zero, so a fresh adapter returns y exactly
/// and training starts from the base model bit for bit; W_down is N(0, 0.01²) truncated at two standard deviations (the
/// paper's choice, section 3.6); b_down is zero.</para>
/// <para>Files: PEFT has no Houlsby adapter, so this is Lathe's own type in PEFT's folder shape —
/// <c>adapter_config.json</c> with peft_type "LATHE_BOTTLENECK", task_type, bottleneck_size, non_linearity ("gelu" |
/// "relu") and target_modules (the full module names), and <c>adapter_model.safetensors</c> with
/// <c>base_model.model.&lt;module&gt;.adapter_down.weight</c> (m, C) / <c>.bias</c> (m) and <c>.adapter_up.weight</c>
/// (C, m) / <c>.bias</c> (C), weights (out, in) as nn.Linear stores them.</para>
/// </remarks>
public sealed class BottleneckAdapters : ITuningMethod
{
    const string PeftType = "LATHE_BOTTLENECK";
    static readonly string[] DecoderTargets = [".attn.c_proj", ".mlp.c_proj", ".self_attn.o_proj", ".mlp.down_proj"];

    readonly LanguageModel _model;
    readonly BottleneckConfig _config;
    readonly List<(LinearLayer Layer, Adapter Adapter)> _adapters = [];
    readonly List<ModelParameter> _trainable = [];
    bool _attached, _disposed;

    /// <summary>One module's bottleneck: the <see cref="ILinearAdapter"/> in its projection's slot.</summary>
    sealed class Adapter(Tensor down, Tensor downBias, Tensor up, Tensor upBias, BottleneckActivation activation) : ILinearAdapter
    {
        public readonly Tensor Down = down, DownBias = downBias, Up = up, UpBias = upBias;   // (m,C), (m), (C,m), (C)

        public Tensor Forward(Tensor x, Tensor y)
        {
            var h = Ops.Linear(y, Down, DownBias);                                               // (…,C) → (…,m)
            h = activation == BottleneckActivation.Relu ? Ops.Relu(h) : Ops.Gelu(h, tanhApproximation: false);
            return Ops.Add(y, Ops.Linear(h, Up, UpBias));                                         // (…,m) → (…,C), residual
        }
    }

    /// <summary>True for a sub-layer's output projection: the decoders' (by suffix) or BERT's
    /// <c>….layer.N.attention.output.dense</c> and <c>….layer.N.output.dense</c> — matched on the whole tail, because
    /// "output.dense" alone also ends the attention one's name and intermediate.dense is the FFN's input.</summary>
    internal static bool IsTarget(string name)
    {
        foreach (var suffix in DecoderTargets)
            if (name.EndsWith(suffix, StringComparison.Ordinal)) return true;
        var parts = name.Split('.');
        if (parts.Length < 4 || parts[^2] != "output" || parts[^1] != "dense") return false;
        return (parts[^4] == "layer" && IsIndex(parts[^3]))                                          // FFN: layer.N.output.dense
            || (parts[^3] == "attention" && parts.Length >= 5 && parts[^5] == "layer" && IsIndex(parts[^4]));   // layer.N.attention.output.dense
    }

    static bool IsIndex(string s) => s.Length > 0 && s.All(char.IsAsciiDigit);

    BottleneckAdapters(LanguageModel model, BottleneckConfig config, IReadOnlyList<string>? modules)
    {
        if (config.BottleneckSize <= 0) throw new ArgumentException($"bottleneck adapters: bottleneck_size {config.BottleneckSize} must be ≥ 1.");
        _model = model;
        _config = config;
        var byName = new Dictionary<string, LinearLayer>(StringComparer.Ordinal);
        foreach (var layer in model.Linears) byName[layer.Name] = layer;
        var chosen = new List<LinearLayer>();
        if (modules is null)
        {
            foreach (var layer in model.Linears)
                if (IsTarget(layer.Name)) chosen.Add(layer);
            if (chosen.Count == 0)
                throw new ArgumentException($"bottleneck adapters: {model.Config.ModelType} has no attention or MLP output projection (attn.c_proj, mlp.c_proj, self_attn.o_proj, mlp.down_proj, attention.output.dense, output.dense).");
        }
        else
            foreach (var name in modules)
                chosen.Add(byName.TryGetValue(name, out var layer) ? layer : throw new InvalidDataException($"target_modules: '{name}' is not a projection of this {model.Config.ModelType} model."));
        int m = config.BottleneckSize;
        foreach (var layer in chosen)
        {
            if (layer.Adapter is not null) throw new InvalidOperationException($"bottleneck adapters: {layer.Name} already has an adapter attached.");
            int C = layer.OutFeatures;
            string n = "base_model.model." + layer.Name;
            var adapter = new Adapter(Add(n + ".adapter_down.weight", Tensor.Zeros(m, C), true), Add(n + ".adapter_down.bias", Tensor.Zeros(m), false),
                Add(n + ".adapter_up.weight", Tensor.Zeros(C, m), true), Add(n + ".adapter_up.bias", Tensor.Zeros(C), false), config.Activation);
            _adapters.Add((layer, adapter));
        }
    }

    Tensor Add(string name, Tensor value, bool decay) => TuningParameters.Add(_trainable, name, value, decay);

    /// <summary>Attaches fresh adapters after every attention and MLP output projection of <paramref name="model"/>.</summary>
    public static BottleneckAdapters Attach(LanguageModel model, BottleneckConfig config, ulong seed)
    {
        var method = new BottleneckAdapters(model, config, null);
        var rng = new Philox(seed);
        foreach (var (_, adapter) in method._adapters)
        {
            var down = adapter.Down.AsSpan();
            for (int i = 0; i < down.Length; i++)
            {
                float z;
                do z = rng.NextNormal(); while (MathF.Abs(z) > 2f);   // truncated normal: redraw beyond two σ
                down[i] = 0.01f * z;
            }
        }
        method.Attach();
        return method;
    }

    /// <summary>Loads a Lathe bottleneck-adapter folder onto <paramref name="model"/>; every module it names must be a
    /// projection of the model, every tensor the model's shape.</summary>
    public static BottleneckAdapters Load(LanguageModel model, string dir)
    {
        var folder = PeftAdapterFolder.Read(dir, PeftType);
        string path = folder.ConfigPath;
        int m = folder.RequiredInteger("bottleneck_size");
        if (m <= 0) throw new InvalidDataException($"{path}: bottleneck_size: {m} must be ≥ 1.");
        string act = PeftJson.RequiredString(folder.Config, "non_linearity", path);
        var activation = act switch
        {
            "gelu" => BottleneckActivation.Gelu,
            "relu" => BottleneckActivation.Relu,
            _ => throw new InvalidDataException($"{path}: non_linearity: '{act}', expected 'gelu' or 'relu'."),
        };
        var modules = PeftJson.RequiredStringList(folder.Config, "target_modules", path);
        if (modules.Count == 0) throw new InvalidDataException($"{path}: target_modules: empty.");
        BottleneckAdapters method;
        try { method = new BottleneckAdapters(model, new BottleneckConfig { BottleneckSize = m, Activation = activation }, modules); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
        return TuningParameters.CompleteOrDispose(method, m =>
        {
            m.ReadTensors(folder);
            m.Attach();
        });
    }

    public string Name => "adapter";
    public LanguageModel Model => _model;
    public IReadOnlyList<ModelParameter> Trainable => _trainable;
    public int VirtualTokens => 0;
    public BottleneckConfig Config => _config;

    /// <summary>The Hugging Face names of the projections that carry an adapter, in the model's order.</summary>
    public IEnumerable<string> Modules => _adapters.Select(a => a.Layer.Name);

    /// <summary>Puts every adapter back into its projection's slot after <see cref="Detach"/>. Idempotent; a slot another
    /// method holds is a one-line error, and nothing changes.</summary>
    public void Attach()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        foreach (var (layer, adapter) in _adapters)
            if (layer.Adapter is not null && !ReferenceEquals(layer.Adapter, adapter))
                throw new InvalidOperationException($"bottleneck adapters: '{layer.Name}' already has another adapter attached; detach it first.");
        foreach (var (layer, adapter) in _adapters) layer.Adapter = adapter;
        _attached = true;
    }

    /// <summary>The decoder's token embeddings: the adapters act inside the projections. An encoder (BERT) embeds its
    /// own inputs; its objectives never call this.</summary>
    public Tensor Embed(ReadOnlySpan<int> ids, int B, int T)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _model is CausalLM decoder
            ? decoder.Embed(ids, B, T)
            : throw new NotSupportedException($"adapter: a {_model.Config.ModelType} model has no decoder embedding");
    }

    public void Save(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var config = PeftJson.CausalLmConfig(PeftType, new JsonObject
        {
            ["bottleneck_size"] = _config.BottleneckSize,
            ["non_linearity"] = _config.Activation == BottleneckActivation.Relu ? "relu" : "gelu",
            ["target_modules"] = PeftJson.List(Modules),
        });
        // PEFT's task_type for an encoder: a BERT classifier's is SEQ_CLS; another has none PEFT names.
        if (_model is not CausalLM) config["task_type"] = _model is BertClassifier ? "SEQ_CLS" : null;
        PeftAdapterFolder.Write(dir, config, _trainable.Select(p => PeftTensor.Of(p.Name, p.Value)).ToList());
    }

    /// <summary>Reads every adapter tensor of <paramref name="dir"/> back by name; shapes must match.</summary>
    public void Load(string dir)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ReadTensors(PeftAdapterFolder.Read(dir, PeftType));
    }

    void ReadTensors(PeftAdapterFolder folder)
    {
        foreach (var p in _trainable) folder.ReadInto(p.Name, p.Value);
    }

    /// <summary>Clears the adapter slots this method filled. Idempotent.</summary>
    public void Detach()
    {
        if (!_attached) return;
        foreach (var (layer, adapter) in _adapters)
            if (ReferenceEquals(layer.Adapter, adapter)) layer.Adapter = null;
        _attached = false;
    }

    public void Dispose()
    {
        if (_disposed) return;
        Detach();
        _disposed = true;
        TuningParameters.Dispose(_trainable);
    }
}
