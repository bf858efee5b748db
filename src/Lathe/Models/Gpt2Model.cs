using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>GPT-2 (Radford et al. 2019): learned token and position embeddings, pre-LN blocks of causal
/// multi-head attention and a GELU(tanh) MLP, a final LayerNorm, and an lm_head tied to the token
/// embedding. Parameter names are Hugging Face GPT2LMHeadModel's. Options: position_embedding_type sinusoidal / alibi /
/// rope instead of the learned table (<see cref="PositionalEncodings"/>), and Mixture-of-Experts feed-forwards in
/// place of the MLP in the layers the config names (<see cref="MixtureOfExperts"/>).</summary>
public sealed class Gpt2Model : CausalLM
{
    readonly Tensor _wte;   // (V, C)
    readonly Tensor? _wpe;  // (maxT, C) learned positions; the sinusoidal table (not a parameter); null for alibi/rope
    readonly double[]? _alibiSlopes;
    readonly RopeTables? _rope;
    readonly Block[] _blocks;
    readonly NormLayer _lnF;
    readonly LinearLayer _lmHead;   // (V, C), tied to wte
    readonly Tensor[] _qkv = new Tensor[3];

    internal Gpt2Model(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    Gpt2Model(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        float std = c.InitStd;
        // GPT-2 §2.3: residual projections scaled by 1/√(2·n_layer) so the residual stream's variance stays put.
        float residualStd = std / MathF.Sqrt(2 * c.Layers);
        _wte = p.Normal("transformer.wte.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _wpe = c.PositionEmbeddingType switch
        {
            "learned" => p.Normal("transformer.wpe.weight", std, decay: false, storedTransposed: false, c.MaxPositions, c.Embd),
            "sinusoidal" => PositionalEncodings.SinusoidalTable(c.MaxPositions, c.Embd),
            _ => null,
        };
        _alibiSlopes = c.PositionEmbeddingType == "alibi" ? PositionalEncodings.AlibiSlopes(c.Heads) : null;
        _rope = c.PositionEmbeddingType == "rope" ? RopeTables.Create(c.MaxPositions, c.HeadDim, c.RopeTheta) : null;
        _blocks = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"transformer.h.{l}";
            bool moe = c.IsMoeLayer(l);
            _blocks[l] = new Block(
                new NormLayer(p, n + ".ln_1", c.Embd, rms: false, c.NormEps),
                LinearLayer.Conv1D(p, n + ".attn.c_attn", c.Embd, 3 * c.Embd, std),
                LinearLayer.Conv1D(p, n + ".attn.c_proj", c.Embd, c.Embd, residualStd),
                new NormLayer(p, n + ".ln_2", c.Embd, rms: false, c.NormEps),
                moe ? null : LinearLayer.Conv1D(p, n + ".mlp.c_fc", c.Embd, c.Intermediate, std),
                moe ? null : LinearLayer.Conv1D(p, n + ".mlp.c_proj", c.Intermediate, c.Embd, residualStd),
                moe ? MixtureOfExperts.Gpt2(p, c, n + ".mlp", std, residualStd) : null);
        }
        _lnF = new NormLayer(p, "transformer.ln_f", c.Embd, rms: false, c.NormEps);
        _lmHead = new LinearLayer(_wte, null, sharesWeight: true);
        if (!c.TieEmbeddings) throw new InvalidDataException("config: tie_word_embeddings: gpt2 models here always tie lm_head to wte");
    }

    public override Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Ops.Reshape(Ops.Embedding(_wte, ids), B, T, Config.Embd);   // (B,T,C)

    public override Tensor Hidden(Tensor embeddings, int B, int T)
    {
        int C = Config.Embd;
        var x = Dropout(_wpe is null ? embeddings : Ops.Add(embeddings, Ops.Narrow(_wpe, 0, 0, T)));   // + (T,C) broadcast over B
        var bias = _alibiSlopes is null ? null : PositionalEncodings.AlibiBias(_alibiSlopes, T, T);   // (H,T,T)
        foreach (var block in _blocks) x = block.Forward(this, x, B, T, Config.Heads, _qkv, bias);
        return Ops.Reshape(_lnF.Forward(x), B * T, C);                    // (B·T, C)
    }

    public override Tensor Head(Tensor hidden) => _lmHead.Forward(hidden);   // (N, V), lm_head tied to wte

    public override Tensor Logits(ReadOnlySpan<int> ids, int B, int T, KvCache cache) => Decode(ids, B, T, cache, lastOnly: false);

    public override Tensor LastLogits(ReadOnlySpan<int> ids, int B, int T, KvCache cache) => Decode(ids, B, T, cache, lastOnly: true);

    Tensor Decode(ReadOnlySpan<int> ids, int B, int T, KvCache cache, bool lastOnly)
    {
        int C = Config.Embd, position = cache.Length;
        if (position + T > Config.MaxPositions)
            throw new ArgumentException($"gpt2: positions {position}..{position + T - 1} exceed the context of {Config.MaxPositions}.");
        var tok = Ops.Reshape(Ops.Embedding(_wte, ids), B, T, C);
        var x = _wpe is null ? tok : Ops.Add(tok, Ops.Narrow(_wpe, 0, position, T));
        var bias = _alibiSlopes is null ? null : PositionalEncodings.AlibiBias(_alibiSlopes, T, position + T);   // (H,T,S)
        for (int l = 0; l < _blocks.Length; l++) x = _blocks[l].Forward(this, x, B, T, Config.Heads, _qkv, bias, cache, l);
        cache.Advance(T);
        x = Ops.Reshape(x, B * T, C);
        if (lastOnly) x = LastPositions(x, B, T);                          // (B, C): only the next token's logits
        return _lmHead.Forward(_lnF.Forward(x));
    }

    private protected override IEnumerable<LinearLayer> LinearLayers()
    {
        foreach (var b in _blocks)
            foreach (var layer in b.Linears) yield return layer;
        yield return _lmHead;
    }

    public override Tensor AddAuxiliaryLosses(Tensor loss)
    {
        foreach (var block in _blocks) if (block.Moe?.LastAuxLoss is { } aux) loss = Ops.Add(loss, aux);
        return loss;
    }

    /// <summary>The MoE feed-forward of layer <paramref name="layer"/>, or null when that layer is dense.</summary>
    internal MixtureOfExperts? MoeLayer(int layer) => _blocks[layer].Moe;

    public override double ForwardFlopsPerToken(int T) => base.ForwardFlopsPerToken(T) + MixtureOfExperts.ExtraFlopsPerToken(Config);

    private protected override void DisposeExtra()
    {
        base.DisposeExtra();
        if (_wpe is not null && !_wpe.RequiresGrad) _wpe.Dispose();
    }

    sealed class Block(NormLayer ln1, LinearLayer attn, LinearLayer attnProj, NormLayer ln2, LinearLayer? fc, LinearLayer? fcProj, MixtureOfExperts? moe)
    {
        public MixtureOfExperts? Moe => moe;

        /// <summary>The dense projections (an MoE layer's experts are not LinearLayers and stay F32).</summary>
        public IEnumerable<LinearLayer> Linears
        {
            get
            {
                yield return attn; yield return attnProj;
                if (fc is not null) yield return fc;
                if (fcProj is not null) yield return fcProj;
            }
        }

        public Tensor Forward(Gpt2Model model, Tensor x, int B, int T, int H, Tensor[] qkv, Tensor? bias, KvCache? cache = null, int layer = 0)
        {
            var h = attn.Forward(ln1.Forward(x));                        // (B,T,3C)
            Tensor y;                                                    // (B,T,C)
            if (cache is null && bias is null)
            {
                // Training and full-sequence scoring without an additive bias: the kernel reads q, k, v in place from h
                // (rotated first under RoPE) and writes (B,T,C) — no head split or merge to copy (the same values as
                // below).
                if (model._rope is { } rope) h = Ops.RopeTokenMajor(h, rope, rotatedHeads: 2 * H);   // q and k turn, v does not
                var (rate, seed) = model.AttentionDropout(model.Config.AttentionDropout);   // attn_pdrop
                y = Ops.AttentionPacked(h, H, H, causal: true, dropout: rate, dropoutSeed: seed);
            }
            else y = SplitHeadsAttention(model, h, B, T, H, qkv, bias, cache, layer);
            x = Ops.Add(x, model.Dropout(attnProj.Forward(y)));        // resid_pdrop
            var h2 = ln2.Forward(x);
            var m = moe is not null ? moe.Forward(h2) : fcProj!.Forward(Ops.Gelu(fc!.Forward(h2), tanhApproximation: true));   // (B,T,4C) inside
            return Ops.Add(x, model.Dropout(m));
        }

        /// <summary>Attention through (B,H,T,D) heads, for an additive bias or a KV cache. (B,T,C).</summary>
        static Tensor SplitHeadsAttention(Gpt2Model model, Tensor h, int B, int T, int H, Tensor[] qkv, Tensor? bias, KvCache? cache, int layer)
        {
            int C = h.Dim(-1) / 3, D = C / H;
            // One copy puts q, k and v each in (B,H,T,D) row-major order: (B,T,3,H,D) → (3,B,H,T,D);
            // the three slices along the first axis are then contiguous views the attention reads in place.
            var heads = Ops.Contiguous(Ops.Permute(Ops.Reshape(h, B, T, 3, H, D), 2, 0, 3, 1, 4));
            Ops.Split(heads, 0, [1, 1, 1], qkv);
            Tensor q = Ops.Reshape(qkv[0], B, H, T, D), k = Ops.Reshape(qkv[1], B, H, T, D), v = Ops.Reshape(qkv[2], B, H, T, D);
            if (model._rope is { } rope) { q = Ops.Rope(q, rope, cache?.Length ?? 0); k = Ops.Rope(k, rope, cache?.Length ?? 0); }
            Tensor y;
            if (cache is null)
            {
                var (rate, seed) = model.AttentionDropout(model.Config.AttentionDropout);   // attn_pdrop
                y = Ops.Attention(q, k, v, causal: true, bias: bias, dropout: rate, dropoutSeed: seed);  // (B,H,T,D)
            }
            else
            {
                cache.Write(layer, k, v);
                int S = cache.Length + T;
                // The cached-attention kernel takes no bias: ALiBi reads the cache prefix through the general kernel.
                y = bias is null ? Ops.AttentionCached(q, cache.Keys(layer), cache.Values(layer), S)
                    : Ops.Attention(q, Ops.Narrow(cache.Keys(layer), 2, 0, S), Ops.Narrow(cache.Values(layer), 2, 0, S), causal: true, bias: bias);
            }
            return Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, T, C);
        }
    }
}
