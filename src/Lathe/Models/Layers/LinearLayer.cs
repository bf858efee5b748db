using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Creates and registers a model's parameters in a fixed order, initialised from one seeded
/// generator (GPT-2 scheme: matrices and embeddings N(0, std), biases 0, norm gains 1).</summary>
internal sealed class ParameterBuilder(ulong seed)
{
    readonly Philox _rng = new(seed);
    public List<ModelParameter> Parameters { get; } = [];

    public Tensor Normal(string name, float std, bool decay, bool storedTransposed, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        _rng.FillNormal(t.AsSpan(), 0, std);
        return Add(name, t, storedTransposed, decay);
    }

    public Tensor Constant(string name, float value, params int[] shape) => Add(name, Tensor.Full(value, shape), false, false);

    Tensor Add(string name, Tensor t, bool storedTransposed, bool decay)
    {
        t.RequiresGrad = true;
        t.Name = name;
        Parameters.Add(new ModelParameter(name, t, storedTransposed, decay));
        return t;
    }
}

/// <summary>A parameter-efficient tuning method's hook into one dense projection (LoRA, also over a quantized base
/// weight; bottleneck adapters; IA³ …): it receives the layer's input and the base output x·Wᵀ + b and returns what
/// the layer passes on. The method owns its parameters; the base weight stays as it is (frozen or not).</summary>
public interface ILinearAdapter
{
    /// <summary>The layer's output given its input <paramref name="x"/> (…, in) and base output <paramref name="y"/> (…, out).
    /// <paramref name="y"/> is the layer's own (a fresh result, or a view of a stacked product): nothing reads it after
    /// the adapter, so an adapter may write its update into it (LoRA does, to keep one out-sized tensor fewer).</summary>
    Tensor Forward(Tensor x, Tensor y);
}

/// <summary>Hears the input of a <see cref="LinearLayer"/>'s forward (an importance-matrix collector sums its squares).
/// <paramref name="x"/> is (…, in) and must not be modified or kept.</summary>
public interface ILinearInputObserver
{
    void Observe(LinearLayer layer, Tensor x);
}

/// <summary>Every dense projection of every architecture: y = x·Wᵀ + b with W (out, in); with <see cref="Quantized"/>
/// set, inference runs on those weights instead; with an <see cref="Adapter"/> attached, its output is what the
/// layer returns. PEFT methods plug in here, so no architecture file forks for them.</summary>
public sealed class LinearLayer
{
    internal LinearLayer(Tensor weight, Tensor? bias, bool sharesWeight = false)
    {
        Weight = weight;
        Bias = bias;
        SharesWeight = sharesWeight;
    }

    /// <summary>The Hugging Face module name ("transformer.h.0.attn.c_attn", "model.layers.3.self_attn.q_proj",
    /// "lm_head"): what PEFT's target_modules match against.</summary>
    public string Name => SharesWeight ? "lm_head" : Weight.Name is { } n && n.EndsWith(".weight", StringComparison.Ordinal) ? n[..^7] : Weight.Name ?? "";

    /// <summary>W (out, in), F32. A tied lm_head shares the token embedding here.</summary>
    public Tensor Weight { get; }
    public Tensor? Bias { get; }
    public int InFeatures => Quantized?.Columns ?? Weight.Dim(1);
    public int OutFeatures => Quantized?.Rows ?? Weight.Dim(0);

    /// <summary>True when <see cref="Weight"/> is also used elsewhere (an lm_head tied to the embedding), so it must
    /// stay allocated when the float weights of quantized layers are released.</summary>
    public bool SharesWeight { get; }

    /// <summary>A quantized copy of W (out, in) that <see cref="Forward"/> uses when set (inference only: the F32
    /// <see cref="Weight"/> keeps the training path). A GGUF loader can set it directly. The layer disposes it.</summary>
    public QuantizedMatrix? Quantized { get; set; }

    /// <summary>The tuning method attached to this projection, or null.</summary>
    public ILinearAdapter? Adapter { get; set; }

    /// <summary>Hears every input of <see cref="Forward"/> when set (off by default: one null test per call). The stacked
    /// quantized q/k/v and gate/up products bypass <see cref="Forward"/>, so observe a model with F32 weights.</summary>
    public ILinearInputObserver? InputObserver { get; set; }

    public Tensor Forward(Tensor x)
    {
        InputObserver?.Observe(this, x);
        if (Quantized is null) return Adapt(x, Ops.Linear(x, Weight, Bias));
        // A quantized weight is frozen (its backward reaches only the input, as QLoRA needs): asking it to train is an
        // error rather than a silently missing gradient.
        if (Weight.RequiresGrad && Lathe.Tensors.Autograd.Tape.IsRecording)
            throw new InvalidOperationException($"{Name}: the weight runs quantized ({Quantized.Type}) and cannot be trained; freeze it and train adapters over it (QLoRA), or train the F32 model");
        return Adapt(x, Ops.QuantLinear(x, Quantized, Bias));
    }

    /// <summary>The adapter's output for a base output <paramref name="y"/> computed elsewhere (a fused projection
    /// that stacks this layer's rows with others'); <paramref name="y"/> itself when no adapter is attached.</summary>
    public Tensor Adapt(Tensor x, Tensor y) => Adapter is null ? y : Adapter.Forward(x, y);

    /// <summary>A GPT-2 Conv1D: HF name, (in, out) on disk, (out, in) in memory, with bias.</summary>
    internal static LinearLayer Conv1D(ParameterBuilder p, string name, int inFeatures, int outFeatures, float std) =>
        new(p.Normal(name + ".weight", std, decay: true, storedTransposed: true, outFeatures, inFeatures),
            p.Constant(name + ".bias", 0f, outFeatures));

    /// <summary>An nn.Linear with bias (Qwen2's q/k/v projections), (out, in) both on disk and in memory.</summary>
    internal static LinearLayer WithBias(ParameterBuilder p, string name, int inFeatures, int outFeatures, float std) =>
        new(p.Normal(name + ".weight", std, decay: true, storedTransposed: false, outFeatures, inFeatures),
            p.Constant(name + ".bias", 0f, outFeatures));

    /// <summary>An nn.Linear without bias (Llama projections), (out, in) both on disk and in memory.</summary>
    internal static LinearLayer NoBias(ParameterBuilder p, string name, int inFeatures, int outFeatures, float std) =>
        new(p.Normal(name + ".weight", std, decay: true, storedTransposed: false, outFeatures, inFeatures), null);
}

/// <summary>LayerNorm (gain and bias) or RMSNorm (gain only) over the last axis.</summary>
internal sealed class NormLayer
{
    readonly Tensor _weight;
    readonly Tensor? _bias;
    readonly float _eps;

    public NormLayer(ParameterBuilder p, string name, int features, bool rms, float eps)
    {
        _weight = p.Constant(name + ".weight", 1f, features);
        _bias = rms ? null : p.Constant(name + ".bias", 0f, features);
        _eps = eps;
    }

    public Tensor Forward(Tensor x) => _bias is null ? Ops.RmsNorm(x, _weight, _eps) : Ops.LayerNorm(x, _weight, _bias, _eps);
}
