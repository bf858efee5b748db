using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Llama (Touvron et al. 2023): token embedding, pre-RMSNorm blocks of grouped-query attention with
/// rotary positions (rotate_half layout) and a SwiGLU MLP, final RMSNorm, lm_head (tied or not).
/// Parameter names are Hugging Face LlamaForCausalLM's; with num_local_experts &gt; 0 the SwiGLU MLPs of the chosen layers
/// are Mixtral's sparse experts (<see cref="MixtureOfExperts"/>).</summary>
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
        _lmHead = c.TieEmbeddings ? new LinearLayer(_embed, null, sharesWeight: true)
                                  : new LinearLayer(p.Normal("lm_head.weight", std, decay: true, storedTransposed: false, c.VocabSize, c.Embd), null);
        _rope = RopeTables.Create(c.MaxPositions, D, c.RopeTheta);
    }

    public override Tensor Embed(ReadOnlySpan<int> ids, int B, int T) => Ops.Reshape(Ops.Embedding(_embed, ids), B, T, Config.Embd);   // (B,T,C)

    public override Tensor Hidden(Tensor embeddings, int B, int T)
    {
        var x = embeddings;                                             // (B,T,C)
        foreach (var block in _blocks) x = block.Forward(this, x, B, T, Config.Heads, Config.KvHeads, _rope);
        return Ops.Reshape(_norm.Forward(x), B * T, Config.Embd);       // (B·T, C)
    }

    public override Tensor Head(Tensor hidden) => _lmHead.Forward(hidden);   // (N, V)

    public override Tensor Logits(ReadOnlySpan<int> ids, int B, int T, KvCache cache) => Decode(ids, B, T, cache, lastOnly: false);

    public override Tensor LastLogits(ReadOnlySpan<int> ids, int B, int T, KvCache cache) => Decode(ids, B, T, cache, lastOnly: true);

    Tensor Decode(ReadOnlySpan<int> ids, int B, int T, KvCache cache, bool lastOnly)
    {
        int C = Config.Embd, position = cache.Length;
        if (position + T > Config.MaxPositions)
            throw new ArgumentException($"llama: positions {position}..{position + T - 1} exceed the context of {Config.MaxPositions}.");
        var x = Ops.Reshape(Ops.Embedding(_embed, ids), B, T, C);
        for (int l = 0; l < _blocks.Length; l++) x = _blocks[l].Forward(this, x, B, T, Config.Heads, Config.KvHeads, _rope, cache, l);
        cache.Advance(T);
        x = Ops.Reshape(x, B * T, C);
        if (lastOnly) x = LastPositions(x, B, T);                          // (B, C): only the next token's logits
        return _lmHead.Forward(_norm.Forward(x));
    }

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

    public override Tensor AddAuxiliaryLosses(Tensor loss)
    {
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

        /// <summary>The dense projections (an MoE layer's experts are not LinearLayers and stay F32).</summary>
        public IEnumerable<LinearLayer> Linears
        {
            get
            {
                yield return q; yield return k; yield return v; yield return o;
                if (gate is not null) yield return gate;
                if (up is not null) yield return up;
                if (down is not null) yield return down;
            }
        }

        // With quantized weights, q/k/v and gate/up each run as one stacked matrix: one activation quantization and
        // one pool dispatch instead of three (two) per token. The layers' own matrices then borrow rows of these.
        QuantizedMatrix? _qkv, _gateUp;

        public void FuseQuantized()
        {
            DisposeFused();
            _qkv = Fuse(q, k, v);
            _gateUp = gate is not null && up is not null ? Fuse(gate, up) : null;
        }

        static unsafe QuantizedMatrix? Fuse(params LinearLayer[] layers)
        {
            var parts = new QuantizedMatrix[layers.Length];
            for (int i = 0; i < layers.Length; i++)
            {
                if (layers[i].Quantized is not { } m || m.Type != layers[0].Quantized!.Type || layers[i].Bias is not null) return null;
                parts[i] = m;
            }
            var fused = QuantizedMatrix.Stack(parts);
            long offset = 0;
            foreach (var layer in layers)
            {
                var m = layer.Quantized!;
                layer.Quantized = QuantizedMatrix.Borrow(fused.Data + offset, m.ByteLength, m.Rows, m.Columns, m.Type, fused);
                offset += m.ByteLength;
                m.Dispose();
            }
            return fused;
        }

        public void DisposeFused()
        {
            _qkv?.Dispose(); _gateUp?.Dispose();
            _qkv = _gateUp = null;
        }

        public Tensor Forward(LlamaModel model, Tensor x, int B, int T, int H, int Hkv, RopeTables rope, KvCache? cache = null, int layer = 0)
        {
            int C = x.Dim(-1), D = C / H, position = cache?.Length ?? 0;
            var h = inNorm.Forward(x);
            Tensor qp, kp, vp;
            if (_qkv is { } qkv)
            {
                var all = Ops.QuantLinear(h, qkv);                                  // (B,T,(H+2·Hkv)·D)
                qp = q.Adapt(h, Ops.Narrow(all, 2, 0, H * D));
                kp = k.Adapt(h, Ops.Narrow(all, 2, H * D, Hkv * D));
                vp = v.Adapt(h, Ops.Narrow(all, 2, (H + Hkv) * D, Hkv * D));
            }
            else { qp = q.Forward(h); kp = k.Forward(h); vp = v.Forward(h); }
            Tensor y;                                                   // (B,T,H·D)
            if (cache is null)
            {
                // Training and full-sequence scoring: rotate and attend in the projections' token-major layout, so no
                // head split or merge is copied (the same values as the cached path's (B,H,T,D) heads).
                var (rate, seed) = model.AttentionDropout(model.Config.AttentionDropout);   // attention_dropout
                y = Ops.AttentionTokenMajor(Ops.RopeTokenMajor(qp, rope, position), Ops.RopeTokenMajor(kp, rope, position), vp,
                    H, Hkv, causal: true, dropout: rate, dropoutSeed: seed);
            }
            else
            {
                var qh = Ops.Rope(Heads(qp, B, T, H, D), rope, position);   // (B,H,T,D)
                var kh = Ops.Rope(Heads(kp, B, T, Hkv, D), rope, position); // (B,Hkv,T,D)
                cache.Write(layer, kh, Heads(vp, B, T, Hkv, D));
                y = Ops.Reshape(Ops.Contiguous(Ops.Transpose(Ops.AttentionCached(qh, cache.Keys(layer), cache.Values(layer), position + T), 1, 2)), B, T, H * D);
            }
            x = Ops.Add(x, model.Dropout(o.Forward(y)));
            var m = postNorm.Forward(x);
            Tensor f;
            if (moe is not null) f = moe.Forward(m);
            else if (_gateUp is { } gateUp)
            {
                var both = Ops.QuantLinear(m, gateUp);                              // (B,T,2·I)
                int I = gateUp.Rows / 2;
                f = down!.Forward(Ops.SwiGlu(gate!.Adapt(m, Ops.Narrow(both, 2, 0, I)), up!.Adapt(m, Ops.Narrow(both, 2, I, I))));
            }
            else f = down!.Forward(Ops.SwiGlu(gate!.Forward(m), up!.Forward(m)));
            return Ops.Add(x, model.Dropout(f));
        }

        static Tensor Heads(Tensor t, int B, int T, int H, int D) => Ops.Transpose(Ops.Reshape(t, B, T, H, D), 1, 2);
    }
}
