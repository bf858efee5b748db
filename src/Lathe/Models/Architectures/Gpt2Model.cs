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
    readonly Tensor? _alibiDistances;   // (H, maxT): the cached path's ALiBi by distance
    readonly Block[] _blocks;
    readonly NormLayer _lnF;
    readonly LinearLayer _lmHead;   // (V, C), tied to wte

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
        _alibiDistances = _alibiSlopes is null ? null : PositionalEncodings.AlibiDistances(_alibiSlopes, c.MaxPositions);
        var rope = c.PositionEmbeddingType == "rope" ? RopeTables.Create(c.MaxPositions, c.HeadDim, c.RopeTheta) : null;
        _blocks = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"transformer.h.{l}";
            bool moe = c.IsMoeLayer(l);
            _blocks[l] = new Block(
                new NormLayer(p, n + ".ln_1", c.Embd, rms: false, c.NormEps),
                CausalSelfAttention.Gpt2(p, n + ".attn", c, std, residualStd, rope, _alibiDistances),
                new NormLayer(p, n + ".ln_2", c.Embd, rms: false, c.NormEps),
                moe ? null : GeluMlp.Gpt2(p, n + ".mlp", c, std, residualStd),
                moe ? MixtureOfExperts.Gpt2(p, c, n + ".mlp", std, residualStd) : null);
        }
        _lnF = new NormLayer(p, "transformer.ln_f", c.Embd, rms: false, c.NormEps);
        _lmHead = new LinearLayer(_wte, null, sharesWeight: true);
        if (!c.TieEmbeddings) throw new InvalidDataException("config: tie_word_embeddings: gpt2 models here always tie lm_head to wte");
    }

    public override Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Ops.Reshape(Ops.Embedding(_wte, ids), B, T, Config.Embd);   // (B,T,C)

    public override Tensor Hidden(Tensor embeddings, int B, int T)
    {
        var x = Dropout(_wpe is null ? embeddings : Ops.Add(embeddings, Ops.Narrow(_wpe, 0, 0, T)));   // + (T,C) broadcast over B
        var bias = _alibiSlopes is null ? null : PositionalEncodings.AlibiBias(_alibiSlopes, T, T);   // (H,T,T)
        return Blocks(x, B, T, bias, null);
    }

    /// <summary>Packed rows: learned or sinusoidal positions looked up at each token's position within its example, rotary
    /// angles likewise, attention kept inside each example. ALiBi is not supported (its bias is by row distance).</summary>
    public override Tensor Hidden(Tensor embeddings, int B, int T, PackedLayout? layout)
    {
        if (layout is null) return Hidden(embeddings, B, T);
        if (_alibiSlopes is not null) throw new NotSupportedException("gpt2: packed rows are not supported with ALiBi positions; pad the examples instead.");
        PackedRows.Check(layout, B, T, Config);
        var x = embeddings;                                            // (B,T,C)
        if (_wpe is not null) x = Ops.Add(x, Ops.Reshape(Ops.Embedding(_wpe, layout.Positions), B, T, Config.Embd));   // + each token's own position
        return Blocks(Dropout(x), B, T, null, layout);
    }

    // The blocks and the final norm over x (B,T,C) with positions added → (B·T, C).
    Tensor Blocks(Tensor x, int B, int T, Tensor? alibiBias, PackedLayout? layout)
    {
        foreach (var block in _blocks)
        {
            x = block.Forward(this, x, B, T, alibiBias, layout);
            CapturedLayers?.Add(x);                                     // hidden-state distillation's hook
        }
        return Ops.Reshape(FinalNorm(x), B * T, Config.Embd);          // (B·T, C)
    }

    public override Tensor Head(Tensor hidden) => _lmHead.Forward(hidden);   // (N, V), lm_head tied to wte

    private protected override Tensor CachedBlocks(Tensor x, IKvCache cache)
    {
        if (_wpe is not null) x = Ops.Add(x, Ops.Embedding(_wpe, cache.Positions));   // (N,C) + each row's own position
        for (int l = 0; l < _blocks.Length; l++) x = _blocks[l].Forward(x, cache, l);
        return x;
    }

    private protected override Tensor FinalNorm(Tensor x) => _lnF.Forward(x);

    private protected override IEnumerable<LinearLayer> LinearLayers()
    {
        foreach (var b in _blocks)
            foreach (var layer in b.Linears) yield return layer;
        yield return _lmHead;
    }

    private protected override CausalSelfAttention AttentionLayer(int layer) => _blocks[layer].Attention;

    internal override MixtureOfExperts? MoeLayer(int layer) => _blocks[layer].Moe;

    private protected override void DisposeExtra()
    {
        base.DisposeExtra();
        if (_wpe is not null && !_wpe.RequiresGrad) _wpe.Dispose();
        _alibiDistances?.Dispose();
    }

    /// <summary>x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)) — the MLP an MoE layer in the layers the config names.</summary>
    sealed class Block(NormLayer ln1, CausalSelfAttention attn, NormLayer ln2, GeluMlp? mlp, MixtureOfExperts? moe)
    {
        public MixtureOfExperts? Moe => moe;
        public CausalSelfAttention Attention => attn;

        /// <summary>The dense projections (an MoE layer's experts are not LinearLayers and stay F32).</summary>
        public IEnumerable<LinearLayer> Linears => mlp is null ? attn.Linears : attn.Linears.Concat(mlp.Linears);

        public Tensor Forward(Gpt2Model model, Tensor x, int B, int T, Tensor? alibiBias, PackedLayout? layout)
        {
            x = Ops.Add(x, model.Dropout(attn.Forward(model, ln1.Forward(x), B, T, alibiBias, layout)));   // resid_pdrop
            return Ops.Add(x, model.Dropout(FeedForward(ln2.Forward(x))));
        }

        /// <summary>The cached step: x (N,C) rows of several sequences → (N,C).</summary>
        public Tensor Forward(Tensor x, IKvCache cache, int layer)
        {
            x = Ops.Add(x, attn.Forward(ln1.Forward(x), cache, layer));
            return Ops.Add(x, FeedForward(ln2.Forward(x)));
        }

        Tensor FeedForward(Tensor h) => moe is not null ? moe.Forward(h) : mlp!.Forward(h);
    }
}
