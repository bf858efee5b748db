using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>Any model Lathe trains: its config, its parameters in a fixed order, and dropout. A model computes
/// hidden states and logits; what it is trained to predict is an objective's business (Training/Objectives).
/// Decoders derive from <see cref="CausalLM"/>; encoders and encoder-decoders derive from this directly.</summary>
public abstract class LanguageModel : IDisposable
{
    public ModelConfig Config { get; }
    /// <summary>Every parameter in a fixed order (the order of init, the optimizer and checkpoints).</summary>
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    readonly List<ModelParameter> _parameters;

    private protected LanguageModel(ModelConfig config, List<ModelParameter> parameters)
    {
        Config = config;
        _parameters = parameters;
    }

    /// <summary>Source of dropout masks while training (null: no dropout, as in evaluation and sampling).
    /// Each dropout site draws one seed from it, so masks follow the generator's saved state on resume.</summary>
    public Philox? DropoutRng { get; set; }

    /// <summary>Dropout with the config's rate when training, identity otherwise.</summary>
    internal Tensor Dropout(Tensor x)
    {
        if (DropoutRng is null || Config.Dropout == 0f) return x;
        return Ops.Dropout(x, Config.Dropout, NextDropoutSeed());
    }

    /// <summary>The rate and seed for dropout on one attention call's probabilities: (0, 0) unless training with
    /// <paramref name="rate"/> &gt; 0 (a seed is drawn only then, so runs without it keep their masks).</summary>
    internal (float Rate, ulong Seed) AttentionDropout(float rate)
        => DropoutRng is null || rate == 0f ? (0f, 0UL) : (rate, NextDropoutSeed());

    ulong NextDropoutSeed() => ((ulong)DropoutRng!.NextUInt() << 32) | DropoutRng.NextUInt();

    /// <summary>Number of scalar parameters (tied weights counted once).</summary>
    public long ParameterCount
    {
        get { long n = 0; foreach (var p in _parameters) n += p.Value.Length; return n; }
    }

    /// <summary>Creates a freshly initialised model of the config's type.</summary>
    public static LanguageModel Create(ModelConfig config, ulong seed) => config.Validate().ModelType switch
    {
        "gpt2" => new Gpt2Model(config, seed),
        "llama" => new LlamaModel(config, seed),
        "gemma" or "gemma2" => new GemmaModel(config, seed),
        "bert" => config.Labels is not null ? new BertClassifier(config, seed) : config.EncoderOnly ? new BertEncoderModel(config, seed) : new BertModel(config, seed),
        "t5" => new T5Model(config, seed),
        _ => throw new InvalidDataException($"config: model_type: '{config.ModelType}' is not supported"),
    };

    /// <summary>Every projection, MLP and output-head layer (what Compression's ModelQuantizer converts; embeddings and
    /// norms excluded). Architectures list theirs; a model without any yields none.</summary>
    private protected virtual IEnumerable<LinearLayer> LinearLayers() { yield break; }

    /// <summary>Every dense projection of the model with its Hugging Face module name, in a fixed order: where a
    /// parameter-efficient method attaches its <see cref="LinearLayer.Adapter"/>. The output head (gpt2/llama
    /// lm_head, BERT's classifier or pre-training heads) comes last; Mixture-of-Experts experts are not among them
    /// (their weights are stacked per layer).</summary>
    public IEnumerable<LinearLayer> Linears => LinearLayers();

    public void Dispose()
    {
        foreach (var p in _parameters) { p.Value.Grad?.Dispose(); p.Value.Dispose(); }
        foreach (var layer in LinearLayers()) { layer.Quantized?.Dispose(); layer.Quantized = null; }
        DisposeExtra();
        GC.SuppressFinalize(this);
    }

    private protected virtual void DisposeExtra() { }
}
