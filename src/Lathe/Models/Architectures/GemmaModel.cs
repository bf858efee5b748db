using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>Gemma (Gemma Team 2024, "Gemma: Open Models Based on Gemini Research and Technology") and Gemma 2 (Gemma Team
/// 2024, "Gemma 2: Improving Open Language Models at a Practical Size"), as llama.cpp's src/models/gemma.cpp and
/// gemma2.cpp compute them: token embeddings scaled by √C; pre-RMSNorm blocks of grouped-query attention with rotary
/// positions (rotate_half) and a GeGLU MLP (<see cref="GatedMlp"/>); final RMSNorm; the head tied to the embeddings.
/// Gemma 2 adds an RMSNorm after attention and after the MLP (before each residual add), attention-logit and
/// final-logit soft-capping (c·tanh(x / c)), sliding-window attention on the local layers
/// (<see cref="ModelConfig.IsSlidingLayer"/>) and queries scaled by 1/√query_pre_attn_scalar.
/// One class for both: the block is the same with two norms more, and the rest is configuration, so a second file
/// would repeat the whole model. Norm weights hold the multiplier itself (Hugging Face's 1 + weight, which llama.cpp's
/// converter stores), so RMSNorm here is the plain x/rms(x)·w. Parameter names are Hugging Face's.
/// The soft caps have no backward (inference only); Gemma (1) trains.</summary>
public sealed class GemmaModel : CausalLM
{
    readonly Tensor _embed;       // (V, C)
    readonly LinearLayer _lmHead; // (V, C): the embedding
    readonly Block[] _blocks;
    readonly NormLayer _norm;
    readonly RopeTables _rope;
    readonly float _embedScale;

    internal GemmaModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    GemmaModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        float std = c.InitStd, residualStd = std / MathF.Sqrt(2 * c.Layers);
        bool gemma2 = c.ModelType == "gemma2";
        // llama.cpp scales the embeddings by sqrtf(n_embd) in F32 (Hugging Face rounds √C to the model's dtype first).
        _embedScale = MathF.Sqrt(c.Embd);
        _embed = p.Normal("model.embed_tokens.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _rope = RopeTables.Create(c.MaxPositions, c.HeadDim, c.RopeTheta);
        float? scale = c.QueryPreAttnScalar > 0 ? 1f / MathF.Sqrt(c.QueryPreAttnScalar) : null;
        _blocks = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"model.layers.{l}";
            NormLayer Norm(string name) => new(p, $"{n}.{name}", c.Embd, rms: true, c.NormEps);
            var inNorm = Norm("input_layernorm");
            var attn = CausalSelfAttention.Llama(p, n + ".self_attn", c, std, residualStd, _rope,
                window: c.IsSlidingLayer(l) ? c.SlidingWindow : 0, softCap: c.AttentionSoftCap, scale: scale);
            // Gemma: post_attention_layernorm is the norm before the MLP. Gemma 2 renamed that one
            // pre_feedforward_layernorm and put post_attention_layernorm on the attention output.
            var postAttn = gemma2 ? Norm("post_attention_layernorm") : null;
            var preMlp = Norm(gemma2 ? "pre_feedforward_layernorm" : "post_attention_layernorm");
            var mlp = GatedMlp.Gemma(p, n + ".mlp", c, std, residualStd);
            var postMlp = gemma2 ? Norm("post_feedforward_layernorm") : null;
            _blocks[l] = new Block(inNorm, attn, postAttn, preMlp, mlp, postMlp);
        }
        _norm = new NormLayer(p, "model.norm", c.Embd, rms: true, c.NormEps);
        _lmHead = new LinearLayer(_embed, null, sharesWeight: true);
    }

    public override Tensor Embed(ReadOnlySpan<int> ids, int B, int T) =>
        Ops.Reshape(Ops.Scale(Ops.Embedding(_embed, ids), _embedScale), B, T, Config.Embd);   // (B,T,C)

    public override Tensor Hidden(Tensor embeddings, int B, int T)
    {
        var x = embeddings;                                             // (B,T,C)
        foreach (var block in _blocks)
        {
            x = block.Forward(this, x, B, T);
            CapturedLayers?.Add(x);                                     // hidden-state distillation's hook
        }
        return Ops.Reshape(FinalNorm(x), B * T, Config.Embd);           // (B·T, C)
    }

    /// <summary>Logits (N, V), soft-capped to ±final_logit_softcapping when the config has one (Gemma 2).</summary>
    public override Tensor Head(Tensor hidden)
    {
        var logits = _lmHead.Forward(hidden);                           // (N, V)
        float cap = Config.FinalLogitSoftCap;
        return cap > 0 ? Ops.Scale(Ops.Tanh(Ops.Scale(logits, 1f / cap)), cap) : logits;
    }

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

    /// <summary>x = x + postAttn(attn(input_layernorm(x))); x = x + postMlp(mlp(preMlp(x))) — the post norms Gemma 2's
    /// only (identity for Gemma).</summary>
    sealed class Block(NormLayer inNorm, CausalSelfAttention attn, NormLayer? postAttn, NormLayer preMlp, GatedMlp mlp, NormLayer? postMlp)
    {
        public CausalSelfAttention Attention => attn;

        public IEnumerable<LinearLayer> Linears => attn.Linears.Concat(mlp.Linears);

        public void FuseQuantized() { attn.FuseQuantized(); mlp.FuseQuantized(); }

        public void DisposeFused() { attn.DisposeFused(); mlp.DisposeFused(); }

        public Tensor Forward(GemmaModel model, Tensor x, int B, int T)
        {
            x = Ops.Add(x, model.Dropout(Post(postAttn, attn.Forward(model, inNorm.Forward(x), B, T, alibiBias: null))));
            return Ops.Add(x, model.Dropout(Post(postMlp, mlp.Forward(preMlp.Forward(x)))));
        }

        /// <summary>The cached step: x (N,C) rows of several sequences → (N,C).</summary>
        public Tensor Forward(Tensor x, IKvCache cache, int layer)
        {
            x = Ops.Add(x, Post(postAttn, attn.Forward(inNorm.Forward(x), cache, layer)));
            return Ops.Add(x, Post(postMlp, mlp.Forward(preMlp.Forward(x))));
        }

        static Tensor Post(NormLayer? norm, Tensor h) => norm is null ? h : norm.Forward(h);
    }
}
