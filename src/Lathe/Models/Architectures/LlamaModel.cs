using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>Llama (Touvron et al. 2023): token embedding, pre-RMSNorm blocks of grouped-query attention with
/// rotary positions (rotate_half layout) and a SwiGLU MLP, final RMSNorm, lm_head (tied or not).
/// Parameter names are Hugging Face LlamaForCausalLM's; with num_local_experts &gt; 0 the SwiGLU MLPs of the chosen layers
/// are Mixtral's sparse experts (<see cref="MixtureOfExperts"/>). The same file runs the variants that differ only in
/// numbers the config holds (ModelConfig.LlamaVariants.cs): Llama 3's RoPE frequency divisors, Mistral's sliding window,
/// Qwen2's q/k/v biases (Qwen2ForCausalLM's names and block are Llama's otherwise), and Phi-3 once its fused q/k/v and
/// gate/up weights are split on load.</summary>
public sealed class LlamaModel : CausalLM
{
    readonly Tensor _embed;  // (V, C)
    readonly LinearLayer _lmHead; // (V, C), the embedding when tied
    readonly Block[] _blocks;
    readonly NormLayer _norm;
    readonly RopeTables _rope;

    internal LlamaModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    LlamaModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        float std = c.InitStd, residualStd = std / MathF.Sqrt(2 * c.Layers);
        int D = c.HeadDim;
        _embed = p.Normal("model.embed_tokens.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _rope = RopeTables.Create(c.MaxPositions, D, c.RopeTheta, c.RopeScalingFactor, c.RopeFrequencyDivisors is { } divisors ? divisors.ToArray() : default);
        _blocks = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"model.layers.{l}";
            bool moe = c.IsMoeLayer(l);
            _blocks[l] = new Block(
                new NormLayer(p, n + ".input_layernorm", c.Embd, rms: true, c.NormEps),
                CausalSelfAttention.Llama(p, n + ".self_attn", c, std, residualStd, _rope, window: c.SlidingWindow),
                new NormLayer(p, n + ".post_attention_layernorm", c.Embd, rms: true, c.NormEps),
                moe ? null : GatedMlp.Llama(p, n + ".mlp", c, std, residualStd),
                moe ? MixtureOfExperts.Mixtral(p, c, n + ".block_sparse_moe", std, residualStd) : null);
        }
        _norm = new NormLayer(p, "model.norm", c.Embd, rms: true, c.NormEps);
        _lmHead = c.TieEmbeddings ? new LinearLayer(_embed, null, sharesWeight: true)
                                  : new LinearLayer(p.Normal("lm_head.weight", std, decay: true, storedTransposed: false, c.VocabSize, c.Embd), null);
    }

    public override Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Ops.Reshape(Ops.Embedding(_embed, ids), B, T, Config.Embd);   // (B,T,C)

    public override Tensor Hidden(Tensor embeddings, int B, int T) => Hidden(embeddings, B, T, null);

    /// <summary>With a packed layout: rotary angles at each token's position within its example, attention kept inside
    /// each example.</summary>
    public override Tensor Hidden(Tensor embeddings, int B, int T, PackedLayout? layout)
    {
        if (layout is not null) PackedRows.Check(layout, B, T, Config);
        var x = embeddings;                                             // (B,T,C)
        foreach (var block in _blocks)
        {
            x = block.Forward(this, x, B, T, layout);
            CapturedLayers?.Add(x);                                     // hidden-state distillation's hook
        }
        return Ops.Reshape(FinalNorm(x), B * T, Config.Embd);       // (B·T, C)
    }

    public override Tensor Head(Tensor hidden) => _lmHead.Forward(hidden);   // (N, V)

    private protected override Tensor CachedBlocks(Tensor x, IKvCache cache)
    {
        for (int l = 0; l < _blocks.Length; l++) x = _blocks[l].Forward(x, cache, l);
        return x;
    }

    private protected override Tensor FinalNorm(Tensor x) => _norm.Forward(x);

    private protected override IEnumerable<LinearLayer> LinearLayers()
    {
        foreach (var b in _blocks)
            foreach (var layer in b.Linears) yield return layer;
        yield return _lmHead;
    }

    private protected override void OnQuantized()
    {
        foreach (var b in _blocks) b.FuseQuantized();
    }

    private protected override void DisposeExtra()
    {
        base.DisposeExtra();
        foreach (var b in _blocks) b.DisposeFused();
    }

    private protected override CausalSelfAttention AttentionLayer(int layer) => _blocks[layer].Attention;

    internal override MixtureOfExperts? MoeLayer(int layer) => _blocks[layer].Moe;

    /// <summary>x = x + attn(input_layernorm(x)); x = x + mlp(post_attention_layernorm(x)) — the MLP Mixtral's sparse
    /// experts in the layers the config names.</summary>
    sealed class Block(NormLayer inNorm, CausalSelfAttention attn, NormLayer postNorm, GatedMlp? mlp, MixtureOfExperts? moe)
    {
        public MixtureOfExperts? Moe => moe;
        public CausalSelfAttention Attention => attn;

        /// <summary>The dense projections (an MoE layer's experts are not LinearLayers and stay F32).</summary>
        public IEnumerable<LinearLayer> Linears => mlp is null ? attn.Linears : attn.Linears.Concat(mlp.Linears);

        public void FuseQuantized() { attn.FuseQuantized(); mlp?.FuseQuantized(); }

        public void DisposeFused() { attn.DisposeFused(); mlp?.DisposeFused(); }

        public Tensor Forward(LlamaModel model, Tensor x, int B, int T, PackedLayout? layout)
        {
            x = Ops.Add(x, model.Dropout(attn.Forward(model, inNorm.Forward(x), B, T, alibiBias: null, layout)));
            return Ops.Add(x, model.Dropout(FeedForward(postNorm.Forward(x))));
        }

        /// <summary>The cached step: x (N,C) rows of several sequences → (N,C).</summary>
        public Tensor Forward(Tensor x, IKvCache cache, int layer)
        {
            x = Ops.Add(x, attn.Forward(inNorm.Forward(x), cache, layer));
            return Ops.Add(x, FeedForward(postNorm.Forward(x)));
        }

        Tensor FeedForward(Tensor h) => moe is not null ? moe.Forward(h) : mlp!.Forward(h);
    }
}
