using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>T5 (Raffel et al. 2020), Hugging Face T5ForConditionalGeneration's layout and names: a shared token
/// embedding; an encoder of pre-RMSNorm blocks (bidirectional self-attention with a learned relative position bias
/// that block 0 owns and every block adds, then a ReLU or gated-GELU feed-forward); a decoder whose blocks add
/// causal self-attention (unidirectional relative bias) and cross-attention over the encoder output (masked by the
/// encoder's padding); final RMSNorms; an lm_head tied to the embedding (then the decoder output is scaled by
/// d_model^-0.5 first) or not. T5 does not scale attention logits by 1/√d_kv (the init accounts for it).
/// Dropout (dropout_rate) is applied where T5 applies it, except on the attention probabilities.</summary>
public sealed partial class T5Model : LanguageModel, ICachedDecoder
{
    readonly Tensor _shared;   // (V, C)
    readonly Tensor _lmHead;   // (V, C), the embedding when tied
    readonly Block[] _encoder, _decoder;
    readonly NormLayer _encoderNorm, _decoderNorm;
    readonly RelativePositionBias _encoderBias, _decoderBias;

    internal T5Model(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    T5Model(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        // Hugging Face T5PreTrainedModel._init_weights, scaled by initializer_factor (InitStd).
        float f = c.InitStd;
        _shared = p.Normal("shared.weight", f, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _encoder = new Block[c.Layers];
        for (int l = 0; l < c.Layers; l++) _encoder[l] = new Block(p, c, $"encoder.block.{l}", l == 0, decoder: false);
        _encoderNorm = new NormLayer(p, "encoder.final_layer_norm", c.Embd, rms: true, c.NormEps);
        _decoder = new Block[c.DecoderLayers];
        for (int l = 0; l < c.DecoderLayers; l++) _decoder[l] = new Block(p, c, $"decoder.block.{l}", l == 0, decoder: true);
        _decoderNorm = new NormLayer(p, "decoder.final_layer_norm", c.Embd, rms: true, c.NormEps);
        _lmHead = c.TieEmbeddings ? _shared : p.Normal("lm_head.weight", f, decay: true, storedTransposed: false, c.VocabSize, c.Embd);
        _encoderBias = new RelativePositionBias(_encoder[0].RelativeBias!, bidirectional: true, c.RelativeMaxDistance);
        _decoderBias = new RelativePositionBias(_decoder[0].RelativeBias!, bidirectional: false, c.RelativeMaxDistance);
    }

    /// <summary>Encoder output (B, T, C) for <paramref name="ids"/> (B, T); <paramref name="lengths"/> (one per
    /// row, or empty for none) hides padding keys.</summary>
    public Tensor Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int B, int T)
    {
        int C = Config.Embd;
        var x = Dropout(Ops.Reshape(Ops.Embedding(_shared, ids), B, T, C));   // (B,T,C)
        var bias = _encoderBias.Forward(T, T);                                  // (H,T,T)
        foreach (var block in _encoder) x = block.Forward(this, x, B, T, bias, null, lengths, 0);
        return Dropout(_encoderNorm.Forward(x));
    }

    /// <summary>Decoder logits (B·Td, V) for decoder inputs <paramref name="decoderIds"/> (B, Td) attending to the
    /// encoding of <paramref name="encoderIds"/> (B, Te) whose rows hold <paramref name="encoderLengths"/> real
    /// tokens (empty: all Te).</summary>
    public Tensor Logits(ReadOnlySpan<int> encoderIds, ReadOnlySpan<int> encoderLengths, int B, int Te, ReadOnlySpan<int> decoderIds, int Td)
    {
        if (encoderIds.Length != B * Te || decoderIds.Length != B * Td)
            throw new ArgumentException($"t5: {encoderIds.Length} encoder ids / {decoderIds.Length} decoder ids do not fill (B={B}, Te={Te}) / (B={B}, Td={Td}).");
        var memory = Encode(encoderIds, encoderLengths, B, Te);   // (B,Te,C)
        return Decode(memory, encoderLengths, B, Te, decoderIds, Td);
    }

    /// <summary>Decoder logits (B·Td, V) over an encoder output <paramref name="memory"/> (B, Te, C).</summary>
    public Tensor Decode(Tensor memory, ReadOnlySpan<int> encoderLengths, int B, int Te, ReadOnlySpan<int> decoderIds, int Td)
    {
        int C = Config.Embd;
        var y = Dropout(Ops.Reshape(Ops.Embedding(_shared, decoderIds), B, Td, C));   // (B,Td,C)
        var bias = _decoderBias.Forward(Td, Td);                                        // (H,Td,Td)
        foreach (var block in _decoder) y = block.Forward(this, y, B, Td, bias, memory, encoderLengths, Te);
        y = Dropout(_decoderNorm.Forward(y));
        if (Config.TieEmbeddings) y = Ops.Scale(y, 1f / MathF.Sqrt(C));   // T5 rescales before the tied projection
        return Ops.Linear(Ops.Reshape(y, B * Td, C), _lmHead);           // (B·Td, V)
    }

    /// <summary>Per corpus token of a span-corrupted row: encoder work on its ~0.9·T inputs, decoder and lm_head
    /// work on its ~0.2·T targets (attention counted in full: the encoder's is bidirectional).</summary>
    /// <summary>Matmul FLOPs of one forward pass of one row: <paramref name="encoderLength"/> encoder inputs and
    /// <paramref name="decoderLength"/> decoder positions (attention counted in full: the encoder's is bidirectional).</summary>
    public double ForwardFlops(int encoderLength, int decoderLength)
    {
        var c = Config;
        double inner = c.Heads * c.DKv, te = encoderLength, td = decoderLength;
        double ffn = 2.0 * c.Embd * c.Intermediate * (c.GatedFeedForward ? 3 : 2);
        double attnProj = 2.0 * c.Embd * inner * 4;
        double encoder = c.Layers * te * (attnProj + ffn + 2.0 * 2 * te * inner);
        double decoder = c.DecoderLayers * td * (2 * attnProj + ffn + 2.0 * 2 * (td / 2) * inner + 2.0 * 2 * te * inner)
            + c.DecoderLayers * te * 2.0 * c.Embd * inner * 2;   // cross-attention keys and values of the memory
        return encoder + decoder + td * 2.0 * c.Embd * c.VocabSize;
    }

    /// <summary>Multi-head attention projections: q, k, v (inner, C) and o (C, inner), no biases.</summary>
    sealed partial class Attention(ParameterBuilder p, ModelConfig c, string name)
    {
        readonly int _H = c.Heads, _D = c.DKv;
        readonly LinearLayer _q = Proj(p, name + ".q", c.Heads * c.DKv, c.Embd, c.InitStd / MathF.Sqrt(c.Embd * (float)c.DKv));
        readonly LinearLayer _k = Proj(p, name + ".k", c.Heads * c.DKv, c.Embd, c.InitStd / MathF.Sqrt(c.Embd));
        readonly LinearLayer _v = Proj(p, name + ".v", c.Heads * c.DKv, c.Embd, c.InitStd / MathF.Sqrt(c.Embd));
        readonly LinearLayer _o = Proj(p, name + ".o", c.Embd, c.Heads * c.DKv, c.InitStd / MathF.Sqrt(c.Heads * (float)c.DKv));

        /// <summary>Queries from <paramref name="x"/> (B,Tq,C) over keys/values from <paramref name="kv"/> (B,Tk,C) → (B,Tq,C);
        /// <paramref name="dropout"/> drops attention probabilities (Hugging Face's T5 applies dropout_rate there).</summary>
        public Tensor Forward(Tensor x, Tensor kv, int B, int Tq, int Tk, bool causal, Tensor? bias, ReadOnlySpan<int> keyLengths,
            (float Rate, ulong Seed) dropout = default)
        {
            var q = Heads(_q.Forward(x), B, Tq);    // (B,H,Tq,D)
            var k = Heads(_k.Forward(kv), B, Tk);   // (B,H,Tk,D)
            var v = Heads(_v.Forward(kv), B, Tk);
            var y = Ops.Attention(q, k, v, causal, scale: 1f, bias, keyLengths, dropout: dropout.Rate, dropoutSeed: dropout.Seed);   // T5: no 1/√d
            return _o.Forward(Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, Tq, _H * _D));
        }

        Tensor Heads(Tensor t, int B, int T) => Ops.Transpose(Ops.Reshape(t, B, T, _H, _D), 1, 2);

        static LinearLayer Proj(ParameterBuilder p, string name, int outFeatures, int inFeatures, float std) =>
            new(p.Normal(name + ".weight", std, decay: true, storedTransposed: false, outFeatures, inFeatures), null);
    }

    /// <summary>One T5 block: layer.0 self-attention, [layer.1 cross-attention,] last layer the feed-forward,
    /// each pre-RMSNorm with a residual.</summary>
    sealed partial class Block
    {
        readonly NormLayer _selfNorm, _ffNorm;
        readonly NormLayer? _crossNorm;
        readonly Attention _self;
        readonly Attention? _cross;
        readonly LinearLayer? _wi, _wi0, _wi1;
        readonly LinearLayer _wo;
        /// <summary>The (buckets, H) relative position table; block 0 only.</summary>
        public Tensor? RelativeBias { get; }

        public Block(ParameterBuilder p, ModelConfig c, string name, bool first, bool decoder)
        {
            float f = c.InitStd;
            _self = new Attention(p, c, name + ".layer.0.SelfAttention");
            if (first)
                RelativeBias = p.Normal(name + ".layer.0.SelfAttention.relative_attention_bias.weight", f / MathF.Sqrt(c.Embd),
                    decay: false, storedTransposed: false, c.RelativeBuckets, c.Heads);
            _selfNorm = new NormLayer(p, name + ".layer.0.layer_norm", c.Embd, rms: true, c.NormEps);
            int ff = 1;
            if (decoder)
            {
                _cross = new Attention(p, c, name + ".layer.1.EncDecAttention");
                _crossNorm = new NormLayer(p, name + ".layer.1.layer_norm", c.Embd, rms: true, c.NormEps);
                ff = 2;
            }
            string n = $"{name}.layer.{ff}.DenseReluDense";
            float inStd = f / MathF.Sqrt(c.Embd), outStd = f / MathF.Sqrt(c.Intermediate);
            if (c.GatedFeedForward)
            {
                _wi0 = LinearLayer.NoBias(p, n + ".wi_0", c.Embd, c.Intermediate, inStd);
                _wi1 = LinearLayer.NoBias(p, n + ".wi_1", c.Embd, c.Intermediate, inStd);
            }
            else _wi = LinearLayer.NoBias(p, n + ".wi", c.Embd, c.Intermediate, inStd);
            _wo = LinearLayer.NoBias(p, n + ".wo", c.Intermediate, c.Embd, outStd);
            _ffNorm = new NormLayer(p, $"{name}.layer.{ff}.layer_norm", c.Embd, rms: true, c.NormEps);
        }

        /// <summary>x (B,T,C) → (B,T,C). Decoder blocks get the encoder output <paramref name="memory"/> (B,Te,C).
        /// <paramref name="encoderLengths"/> (per row, or empty) are the encoder's real lengths: the keys an encoder
        /// block's self-attention and a decoder block's cross-attention may see.</summary>
        public Tensor Forward(T5Model model, Tensor x, int B, int T, Tensor bias, Tensor? memory, ReadOnlySpan<int> encoderLengths, int Te)
        {
            bool decoder = memory is not null;
            var h = _selfNorm.Forward(x);
            // Encoder self-attention hides padding keys; decoder self-attention is causal.
            x = Ops.Add(x, model.Dropout(_self.Forward(h, h, B, T, T, causal: decoder, bias, decoder ? default : encoderLengths, model.AttentionDropout(model.Config.Dropout))));
            if (decoder)
            {
                h = _crossNorm!.Forward(x);
                x = Ops.Add(x, model.Dropout(_cross!.Forward(h, memory!, B, T, Te, causal: false, null, encoderLengths, model.AttentionDropout(model.Config.Dropout))));
            }
            return FeedForward(model, x);
        }

        /// <summary>The residual feed-forward layer: x + wo(act(wi·ln(x))), ReLU or gelu_new(wi_0·) ⊙ wi_1·.</summary>
        Tensor FeedForward(T5Model model, Tensor x)
        {
            var h = _ffNorm.Forward(x);
            var hidden = _wi is not null
                ? Ops.Relu(_wi.Forward(h))
                : Ops.Mul(Ops.Gelu(_wi0!.Forward(h), tanhApproximation: true), _wi1!.Forward(h));
            return Ops.Add(x, model.Dropout(_wo.Forward(model.Dropout(hidden))));
        }
    }
}
