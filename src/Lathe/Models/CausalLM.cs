using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>A decoder-only language model: token ids in, next-token logits out.</summary>
public abstract class CausalLM : LanguageModel, ICachedDecoder
{
    private protected CausalLM(ModelConfig config, List<ModelParameter> parameters) : base(config, parameters) { }

    /// <summary>Token embeddings (B,T,C) of <paramref name="ids"/> laid out (B, T) — the model's input before
    /// positions are added. Prompt tuning prepends trained rows to these; a vision encoder's tokens take their place.</summary>
    public abstract Tensor Embed(ReadOnlySpan<int> ids, int B, int T);

    /// <summary>Final hidden states (B·T, C), after the last norm, of input embeddings (B,T,C) — what the lm_head reads,
    /// and what a reward or value head reads instead.</summary>
    public abstract Tensor Hidden(Tensor embeddings, int B, int T);

    /// <summary>Next-token logits (N, V) of hidden rows (N, C): the lm_head.</summary>
    public abstract Tensor Head(Tensor hidden);

    /// <summary>Logits (B·T, V) for <paramref name="ids"/> laid out (B, T).</summary>
    public Tensor Logits(ReadOnlySpan<int> ids, int B, int T) => Head(Hidden(Embed(ids, B, T), B, T));

    /// <summary>Logits (B·T, V) for input embeddings (B,T,C) instead of ids.</summary>
    public Tensor Logits(Tensor embeddings, int B, int T) => Head(Hidden(embeddings, B, T));

    /// <summary>Final hidden states (B·T, C) of packed rows: several examples back to back in each row, laid out by
    /// <paramref name="layout"/> (null: one sequence per row, as <see cref="Hidden(Tensor, int, int)"/>). Each token
    /// attends only within its own example, at its position within that example.</summary>
    public virtual Tensor Hidden(Tensor embeddings, int B, int T, PackedLayout? layout)
    {
        if (layout is null) return Hidden(embeddings, B, T);
        throw new NotSupportedException($"{Config.ModelType}: packed rows are not supported; pad the examples instead.");
    }

    /// <summary>Logits (B·T, V) of packed rows (see <see cref="Hidden(Tensor, int, int, PackedLayout?)"/>).</summary>
    public Tensor Logits(Tensor embeddings, int B, int T, PackedLayout? layout) => Head(Hidden(embeddings, B, T, layout));

    /// <summary><paramref name="loss"/> plus the auxiliary losses the last training forward produced (Mixture-of-Experts
    /// load balancing), added one layer at a time; <paramref name="loss"/> itself when there are none. Objectives
    /// call it on their loss.</summary>
    public Tensor AddAuxiliaryLosses(Tensor loss)
    {
        for (int l = 0; l < Config.Layers; l++) if (MoeLayer(l)?.LastAuxLoss is { } aux) loss = Ops.Add(loss, aux);
        return loss;
    }

    /// <summary>When set, every training forward (<see cref="Hidden(Tensor, int, int)"/>) appends each block's output
    /// (B,T,C), before the final norm, in layer order — what hidden-state distillation matches. The caller clears it
    /// between forwards; null (the default) captures nothing.</summary>
    public List<Tensor>? CapturedLayers { get; set; }

    /// <summary>When set, every training forward appends each layer's post-RoPE queries and keys (see
    /// <see cref="AttentionCapture"/>), in layer order — what attention-map distillation matches. The caller clears it
    /// between forwards; null (the default) captures nothing.</summary>
    public List<AttentionCapture>? CapturedAttention { get; set; }

    /// <summary>The Mixture-of-Experts feed-forward of layer <paramref name="layer"/>, or null when that layer is dense.</summary>
    internal virtual MixtureOfExperts? MoeLayer(int layer) => null;

    /// <summary>The cached forward of one decoding step: <paramref name="ids"/> are the step's N token rows as the
    /// <paramref name="cache"/> laid them out (rows of several sequences at different positions; prompt chunks and
    /// single decode tokens may mix). Projections and MLPs run as one batched GEMM over all rows; only attention is per
    /// sequence. The rows' keys and values join the cache. Returns the logits of each sequence's last row (sequences, V)
    /// when <paramref name="lastOnly"/> — what decoding needs — else of every row (N, V). Decoding only (call under
    /// <c>Tape.NoGrad()</c>).</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, IKvCache cache, bool lastOnly = true)
    {
        if (ids.Length != cache.Rows || ids.Length == 0)
            throw new ArgumentException($"{Config.ModelType}: {ids.Length} ids for a cache step of {cache.Rows} rows.");
        return Forward(Embed(ids, 1, ids.Length), cache, lastOnly);
    }

    /// <summary>The cached step from token embeddings instead of ids: <paramref name="embeddings"/> (N,C) or (1,N,C),
    /// one row per scheduled row (trained prompt rows, vision tokens); positions are added by the model as for ids.</summary>
    public Tensor Forward(Tensor embeddings, IKvCache cache, bool lastOnly = true)
    {
        int C = Config.Embd;
        if (embeddings.Dim(-1) != C || embeddings.Length != (long)cache.Rows * C || cache.Rows == 0)
            throw new ArgumentException($"{Config.ModelType}: embeddings {Tensor.ShapeString(embeddings.Shape)} for a cache step of {cache.Rows} rows of {C}.");
        var positions = cache.Positions;
        foreach (int p in positions)
            if ((uint)p >= (uint)Config.MaxPositions)
                throw new ArgumentException($"{Config.ModelType}: position {p} exceeds the context of {Config.MaxPositions}.");
        var x = CachedBlocks(Ops.Reshape(embeddings, cache.Rows, C), cache);   // (N,C)
        if (lastOnly) x = Ops.Embedding(x, cache.LastRows);                    // (sequences, C): only the next tokens' logits
        cache.Commit();
        return Head(FinalNorm(x));                                             // (N or sequences, V)
    }

    /// <summary>The architecture's positions and blocks over validated embedding rows x (N,C) of a cached step → (N,C),
    /// before the final norm.</summary>
    private protected abstract Tensor CachedBlocks(Tensor x, IKvCache cache);

    /// <summary>The norm after the last block (ln_f, model.norm).</summary>
    private protected abstract Tensor FinalNorm(Tensor x);

    /// <summary>Prefix tuning (Li &amp; Liang 2021): <paramref name="keys"/> and <paramref name="values"/> (Hkv, P, D), the
    /// caller's (typically trainable) tensors, become P extra key/value rows that every sequence's queries in attention
    /// layer <paramref name="layer"/> see before their own keys, in training (gradients reach them) and in cached
    /// decoding alike. Null for both removes the prefix.</summary>
    public void SetAttentionPrefix(int layer, Tensor? keys, Tensor? values)
    {
        if ((uint)layer >= (uint)Config.Layers) throw new ArgumentException($"{Config.ModelType}: attention prefix for layer {layer} of {Config.Layers}.");
        (AttentionLayer(layer) ?? throw new NotSupportedException($"{Config.ModelType}: attention prefixes are not supported.")).SetPrefix(keys, values);
    }

    /// <summary>The shared attention layer of layer <paramref name="layer"/> (null when the model has none).</summary>
    private protected virtual CausalSelfAttention? AttentionLayer(int layer) => null;

    /// <summary>Validates a cached step's ids against the cache's layout and the context; returns the rows' positions.</summary>
    /// <summary>Matmul FLOPs of one forward pass per token of a length-T sequence (training ≈ 3× this), counting attention.</summary>
    public double ForwardFlopsPerToken(int T)
    {
        var c = Config;
        double attnWidth = (double)c.Heads * c.HeadDim;   // d_model unless heads were pruned
        double perLayer = 2.0 * c.Embd * (attnWidth + 2 * c.KvHeads * c.HeadDim) + 2.0 * attnWidth * c.Embd
            + 2.0 * c.Embd * c.Intermediate * (c.ModelType is "llama" or "gemma" or "gemma2" ? 3 : 2)
            + 2.0 * 2 * T * attnWidth / 2;   // QKᵀ and A·V, causal → half of T on average
        return c.Layers * perLayer + 2.0 * c.Embd * c.VocabSize + MixtureOfExperts.ExtraFlopsPerToken(c);   // + the extra experts' work
    }

    /// <summary>Called after every linear layer has its quantized weights (by Compression's ModelQuantizer, or by a loader
    /// through <see cref="PrepareQuantized"/>): a model may stack matrices that read the same input.</summary>
    private protected virtual void OnQuantized() { }

    /// <summary>Lets the model reorganise quantized weights set directly on its layers (e.g. by a GGUF loader) for speed:
    /// Llama stacks q/k/v and gate/up. Call once after the last <c>LinearLayer.Quantized</c> is set.</summary>
    public void PrepareQuantized() => OnQuantized();

    /// <summary>Creates a freshly initialised decoder of the config's type.</summary>
    public static new CausalLM Create(ModelConfig config, ulong seed) => Decoder(LanguageModel.Create(config, seed));

    /// <summary>The model as a decoder, or a one-line error (disposing it) when it is an encoder or encoder-decoder.</summary>
    public static CausalLM Decoder(LanguageModel model)
    {
        if (model is CausalLM decoder) return decoder;
        string type = model.Config.ModelType;
        model.Dispose();
        throw new InvalidDataException($"config: model_type: '{type}' is not a decoder (causal LM); this command needs one");
    }
}
