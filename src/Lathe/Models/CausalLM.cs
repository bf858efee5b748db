using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>A decoder-only language model: token ids in, next-token logits out.</summary>
public abstract class CausalLM : IDisposable
{
    public ModelConfig Config { get; }
    /// <summary>Every parameter in a fixed order (the order of init, the optimizer and checkpoints).</summary>
    public IReadOnlyList<ModelParameter> Parameters => _parameters;
    readonly List<ModelParameter> _parameters;

    private protected CausalLM(ModelConfig config, List<ModelParameter> parameters)
    {
        Config = config;
        _parameters = parameters;
    }

    /// <summary>Source of dropout masks while training (null: no dropout, as in evaluation and sampling).
    /// Each dropout site draws one seed from it, so masks follow the generator's saved state on resume.</summary>
    public Philox? DropoutRng { get; set; }

    /// <summary>Residual/embedding dropout with the config's rate when training, identity otherwise.</summary>
    private protected Tensor Dropout(Tensor x)
    {
        if (DropoutRng is null || Config.Dropout == 0f) return x;
        ulong seed = ((ulong)DropoutRng.NextUInt() << 32) | DropoutRng.NextUInt();
        return Ops.Dropout(x, Config.Dropout, seed);
    }

    /// <summary>Logits (B·T, V) for <paramref name="ids"/> laid out (B, T).</summary>
    public abstract Tensor Logits(ReadOnlySpan<int> ids, int B, int T);

    /// <summary>Logits (B·T, V) of T new tokens per sequence that follow the <paramref name="cache"/>'s
    /// <see cref="KvCache.Length"/> cached ones; their keys and values are appended to the cache. Decoding only
    /// (call under <c>Tape.NoGrad()</c>).</summary>
    public abstract Tensor Logits(ReadOnlySpan<int> ids, int B, int T, KvCache cache);

    /// <summary>Logits (B, V) of only the last of T new tokens per sequence, after appending all T to the
    /// <paramref name="cache"/> — what decoding needs: prompt processing skips the lm_head for every other position.
    /// Decoding only (call under <c>Tape.NoGrad()</c>).</summary>
    public virtual Tensor LastLogits(ReadOnlySpan<int> ids, int B, int T, KvCache cache)
    {
        var all = Logits(ids, B, T, cache);                                      // (B·T, V)
        return Ops.Reshape(Ops.Narrow(Ops.Reshape(all, B, T, Config.VocabSize), 1, T - 1, 1), B, Config.VocabSize);
    }

    /// <summary>Rows T−1, 2T−1, … of <paramref name="x"/> (B·T, C): the last position of each sequence, (B, C).</summary>
    private protected static Tensor LastPositions(Tensor x, int B, int T) =>
        T == 1 ? x : Ops.Reshape(Ops.Narrow(Ops.Reshape(x, B, T, x.Dim(-1)), 1, T - 1, 1), B, x.Dim(-1));

    /// <summary>Mean next-token cross-entropy of <paramref name="ids"/> (B, T) against <paramref name="targets"/> (B, T).</summary>
    public Tensor Loss(ReadOnlySpan<int> ids, ReadOnlySpan<int> targets, int B, int T) => Ops.CrossEntropy(Logits(ids, B, T), targets);

    /// <summary>Number of scalar parameters (tied weights counted once).</summary>
    public long ParameterCount
    {
        get { long n = 0; foreach (var p in _parameters) n += p.Value.Length; return n; }
    }

    /// <summary>Matmul FLOPs of one forward pass per token (6·N·… rule: training ≈ 3× this), counting attention.</summary>
    public double ForwardFlopsPerToken(int T)
    {
        var c = Config;
        double perLayer = 2.0 * c.Embd * (c.Embd + 2 * c.KvHeads * c.HeadDim) + 2.0 * c.Embd * c.Embd
            + 2.0 * c.Embd * c.Intermediate * (c.ModelType == "llama" ? 3 : 2)
            + 2.0 * 2 * T * c.Embd / 2;   // QKᵀ and A·V, causal → half of T on average
        return c.Layers * perLayer + 2.0 * c.Embd * c.VocabSize;
    }

    /// <summary>Creates a freshly initialised model of the config's type.</summary>
    public static CausalLM Create(ModelConfig config, ulong seed) => config.Validate().ModelType switch
    {
        "gpt2" => new Gpt2Model(config, seed),
        "llama" => new LlamaModel(config, seed),
        _ => throw new InvalidDataException($"config: model_type: '{config.ModelType}' is not supported"),
    };

    /// <summary>Every projection, MLP and lm_head layer (what <see cref="Quantize"/> converts; embeddings and norms excluded).</summary>
    private protected virtual IEnumerable<LinearLayer> LinearLayers() { yield break; }

    internal IEnumerable<LinearLayer> Linears => LinearLayers();

    /// <summary>Converts every projection, MLP and lm_head weight to <paramref name="type"/> for inference (embeddings and
    /// norms stay F32); see <see cref="ModelQuantizer.Quantize"/>.</summary>
    public void Quantize(Lathe.Tensors.Quantized.QuantType type, bool releaseFloatWeights = false) =>
        ModelQuantizer.Quantize(this, type, releaseFloatWeights);

    public void Dispose()
    {
        foreach (var layer in LinearLayers()) { layer.Quantized?.Dispose(); layer.Quantized = null; }
        foreach (var p in _parameters) { p.Value.Grad?.Dispose(); p.Value.Dispose(); }
        DisposeExtra();
        GC.SuppressFinalize(this);
    }

    private protected virtual void DisposeExtra() { }
}
