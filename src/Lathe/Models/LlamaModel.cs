using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>Llama (Touvron et al. 2023): token embedding, pre-RMSNorm blocks of grouped-query attention with
/// rotary positions (rotate_half layout) and a SwiGLU MLP, final RMSNorm, lm_head (tied or not).
/// Parameter names are Hugging Face LlamaForCausalLM's; with num_local_experts &gt; 0 the SwiGLU MLPs of the chosen layers
/// are Mixtral's sparse experts (<see cref="MixtureOfExperts"/>).</summary>
public sealed class LlamaModel : CausalLM
{
    readonly Tensor _embed;  // (V, C)
    readonly Tensor _lmHead; // (V, C), the embedding when tied
    readonly Block[] _blocks;
    readonly NormLayer _norm;
    readonly RopeTables _rope;

    internal LlamaModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    LlamaModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        float std = c.InitStd, residualStd = std / MathF.Sqrt(2 * c.Layers);
        int D = c.HeadDim;
        _embed = p.Normal("model.embed_tokens.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _blocks = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"model.layers.{l}";
            bool moe = c.IsMoeLayer(l);
            _blocks[l] = new Block(
                new NormLayer(p, n + ".input_layernorm", c.Embd, rms: true, c.NormEps),
                LinearLayer.NoBias(p, n + ".self_attn.q_proj", c.Embd, c.Heads * D, std),
                LinearLayer.NoBias(p, n + ".self_attn.k_proj", c.Embd, c.KvHeads * D, std),
                LinearLayer.NoBias(p, n + ".self_attn.v_proj", c.Embd, c.KvHeads * D, std),
                LinearLayer.NoBias(p, n + ".self_attn.o_proj", c.Heads * D, c.Embd, residualStd),
                new NormLayer(p, n + ".post_attention_layernorm", c.Embd, rms: true, c.NormEps),
                moe ? null : LinearLayer.NoBias(p, n + ".mlp.gate_proj", c.Embd, c.Intermediate, std),
                moe ? null : LinearLayer.NoBias(p, n + ".mlp.up_proj", c.Embd, c.Intermediate, std),
                moe ? null : LinearLayer.NoBias(p, n + ".mlp.down_proj", c.Intermediate, c.Embd, residualStd),
                moe ? MixtureOfExperts.Mixtral(p, c, n + ".block_sparse_moe", std, residualStd) : null);
        }
        _norm = new NormLayer(p, "model.norm", c.Embd, rms: true, c.NormEps);
        _lmHead = c.TieEmbeddings ? _embed : p.Normal("lm_head.weight", std, decay: true, storedTransposed: false, c.VocabSize, c.Embd);
        _rope = RopeTables.Create(c.MaxPositions, D, c.RopeTheta);
    }

    public override Tensor Logits(ReadOnlySpan<int> ids, int B, int T)
    {
        int C = Config.Embd;
        var x = Ops.Reshape(Ops.Embedding(_embed, ids), B, T, C);       // (B,T,C)
        foreach (var block in _blocks) x = block.Forward(this, x, B, T, Config.Heads, Config.KvHeads, _rope);
        x = _norm.Forward(x);
        return Ops.Linear(Ops.Reshape(x, B * T, C), _lmHead);           // (B·T, V)
    }


    public override Tensor Logits(ReadOnlySpan<int> ids, int B, int T, KvCache cache)
    {
        int C = Config.Embd, position = cache.Length;
        if (position + T > Config.MaxPositions)
            throw new ArgumentException($"llama: positions {position}..{position + T - 1} exceed the context of {Config.MaxPositions}.");
        var x = Ops.Reshape(Ops.Embedding(_embed, ids), B, T, C);
        for (int l = 0; l < _blocks.Length; l++) x = _blocks[l].Forward(this, x, B, T, Config.Heads, Config.KvHeads, _rope, cache, l);
        cache.Advance(T);
        x = _norm.Forward(x);
        return Ops.Linear(Ops.Reshape(x, B * T, C), _lmHead);
    }

    /// <summary>Training loss: next-token cross-entropy plus, in training passes, the MoE layers' auxiliary losses.</summary>
    public override Tensor TrainingLoss(TrainingBatch batch)
    {
        var loss = base.TrainingLoss(batch);
        foreach (var block in _blocks) if (block.Moe?.LastAuxLoss is { } aux) loss = Ops.Add(loss, aux);
        return loss;
    }

    /// <summary>The MoE feed-forward of layer <paramref name="layer"/>, or null when that layer is dense.</summary>
    internal MixtureOfExperts? MoeLayer(int layer) => _blocks[layer].Moe;

    public override double ForwardFlopsPerToken(int T) => base.ForwardFlopsPerToken(T) + MixtureOfExperts.ExtraFlopsPerToken(Config);

    sealed class Block(NormLayer inNorm, LinearLayer q, LinearLayer k, LinearLayer v, LinearLayer o, NormLayer postNorm,
        LinearLayer? gate, LinearLayer? up, LinearLayer? down, MixtureOfExperts? moe)
    {
        public MixtureOfExperts? Moe => moe;

        public Tensor Forward(LlamaModel model, Tensor x, int B, int T, int H, int Hkv, RopeTables rope, KvCache? cache = null, int layer = 0)
        {
            int C = x.Dim(-1), D = C / H, position = cache?.Length ?? 0;
            var h = inNorm.Forward(x);
            var qh = Ops.Rope(Heads(q.Forward(h), B, T, H, D), rope, position);   // (B,H,T,D)
            var kh = Ops.Rope(Heads(k.Forward(h), B, T, Hkv, D), rope, position); // (B,Hkv,T,D)
            var vh = Heads(v.Forward(h), B, T, Hkv, D);
            Tensor y;
            if (cache is null) y = Ops.Attention(qh, kh, vh, causal: true);
            else
            {
                cache.Write(layer, kh, vh);
                y = Ops.AttentionCached(qh, cache.Keys(layer), cache.Values(layer), position + T);
            }
            y = Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, T, H * D);
            x = Ops.Add(x, model.Dropout(o.Forward(y)));
            var m = postNorm.Forward(x);
            var f = moe is not null ? moe.Forward(m) : down!.Forward(Ops.SwiGlu(gate!.Forward(m), up!.Forward(m)));
            return Ops.Add(x, model.Dropout(f));
        }

        static Tensor Heads(Tensor t, int B, int T, int H, int D) => Ops.Transpose(Ops.Reshape(t, B, T, H, D), 1, 2);
    }
}
