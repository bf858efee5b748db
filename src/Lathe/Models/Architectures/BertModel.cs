using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>BERT (Devlin et al. 2019) for pre-training: word + learned absolute position + segment embeddings
/// with LayerNorm; post-LN encoder layers of bidirectional multi-head attention (key-padding mask) and an erf-GELU
/// MLP; a pooler (dense + tanh on [CLS]); the masked-LM head (dense + GELU + LayerNorm, decoder tied to the word
/// embeddings, plus a bias) and the next-sentence head (2 classes). Parameter names and layouts are Hugging Face
/// BertForPreTraining's. Its pre-training objective (MLM + NSP) is Training/Objectives/MaskedLmObjective.</summary>
public sealed class BertModel : LanguageModel
{
    /// <summary>HF's ignore index: an MLM label that is not predicted.</summary>
    public const int IgnoreLabel = -100;

    readonly Tensor _word;      // (V, C)
    readonly Tensor _position;  // (maxT, C)
    readonly Tensor _tokenType; // (types, C)
    readonly NormLayer _embeddingNorm;
    readonly Layer[] _layers;
    readonly LinearLayer _pooler, _transform, _nsp;
    readonly NormLayer _transformNorm;
    readonly Tensor _mlmBias;   // (V)
    int[] _rows = [];   // reused: the gathered [CLS] row indices

    internal BertModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    BertModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        // HF BertPreTrainedModel._init_weights: every matrix and embedding N(0, initializer_range), biases 0, norms 1.
        float std = c.InitStd;
        _word = p.Normal("bert.embeddings.word_embeddings.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _position = p.Normal("bert.embeddings.position_embeddings.weight", std, decay: false, storedTransposed: false, c.MaxPositions, c.Embd);
        _tokenType = p.Normal("bert.embeddings.token_type_embeddings.weight", std, decay: false, storedTransposed: false, c.TypeVocabSize, c.Embd);
        _embeddingNorm = new NormLayer(p, "bert.embeddings.LayerNorm", c.Embd, rms: false, c.NormEps);
        _layers = new Layer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"bert.encoder.layer.{l}";
            _layers[l] = new Layer(
                Dense(p, n + ".attention.self.query", c.Embd, c.Embd, std),
                Dense(p, n + ".attention.self.key", c.Embd, c.Embd, std),
                Dense(p, n + ".attention.self.value", c.Embd, c.Embd, std),
                Dense(p, n + ".attention.output.dense", c.Embd, c.Embd, std),
                new NormLayer(p, n + ".attention.output.LayerNorm", c.Embd, rms: false, c.NormEps),
                Dense(p, n + ".intermediate.dense", c.Embd, c.Intermediate, std),
                Dense(p, n + ".output.dense", c.Intermediate, c.Embd, std),
                new NormLayer(p, n + ".output.LayerNorm", c.Embd, rms: false, c.NormEps));
        }
        _pooler = Dense(p, "bert.pooler.dense", c.Embd, c.Embd, std);
        _transform = Dense(p, "cls.predictions.transform.dense", c.Embd, c.Embd, std);
        _transformNorm = new NormLayer(p, "cls.predictions.transform.LayerNorm", c.Embd, rms: false, c.NormEps);
        _mlmBias = p.Constant("cls.predictions.bias", 0f, c.VocabSize);   // the decoder's weight is _word (tied)
        _nsp = Dense(p, "cls.seq_relationship", c.Embd, 2, std);
    }

    // An nn.Linear with bias: (out, in) both on disk and in memory.
    static LinearLayer Dense(ParameterBuilder p, string name, int inFeatures, int outFeatures, float std) =>
        new(p.Normal(name + ".weight", std, decay: true, storedTransposed: false, outFeatures, inFeatures),
            p.Constant(name + ".bias", 0f, outFeatures));

    /// <summary>The encoder's last hidden states (B·T, C) for <paramref name="ids"/> and <paramref name="tokenTypes"/>
    /// laid out (B, T). <paramref name="lengths"/> (one per row, or empty for no padding) hides keys at positions
    /// ≥ length — right padding, like HF's attention_mask of 1s then 0s. Padded positions still get outputs.</summary>
    public Tensor Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
    {
        var c = Config;
        if (ids.Length != B * T || tokenTypes.Length != B * T)
            throw new ArgumentException($"bert: {ids.Length} ids and {tokenTypes.Length} token types for B={B}, T={T}.");
        if (T > c.MaxPositions)
            throw new ArgumentException($"bert: sequence length {T} exceeds max_position_embeddings {c.MaxPositions}.");
        int C = c.Embd;
        var word = Ops.Reshape(Ops.Embedding(_word, ids), B, T, C);                 // (B,T,C)
        var type = Ops.Reshape(Ops.Embedding(_tokenType, tokenTypes), B, T, C);    // (B,T,C)
        var x = Ops.Add(Ops.Add(word, Ops.Narrow(_position, 0, 0, T)), type);      // + (T,C) broadcast over B
        x = Dropout(_embeddingNorm.Forward(x));
        foreach (var layer in _layers) x = layer.Forward(this, x, B, T, c.Heads, lengths);
        return Ops.Reshape(x, B * T, C);
    }

    /// <summary>MLM prediction scores (N, V) of hidden rows (N, C): transform (dense, GELU, LayerNorm), then the
    /// decoder tied to the word embeddings, plus cls.predictions.bias.</summary>
    public Tensor MaskedLmLogits(Tensor hidden)
    {
        var h = _transformNorm.Forward(Ops.Gelu(_transform.Forward(hidden), tanhApproximation: false));
        return Ops.Linear(h, _word, _mlmBias);
    }

    /// <summary>Next-sentence scores (B, 2) from the hidden states (B·T, C): the pooler (dense + tanh) on each row's
    /// first ([CLS]) position, then cls.seq_relationship. Class 0 = B continues A, 1 = B is random (HF convention).</summary>
    public Tensor NextSentenceLogits(Tensor hidden, int B, int T)
    {
        var rows = Rows(B);
        for (int b = 0; b < B; b++) rows[b] = b * T;
        var cls = Ops.Embedding(hidden, rows.AsSpan(0, B));                         // gather (B, C)
        return _nsp.Forward(Ops.Tanh(_pooler.Forward(cls)));
    }

    /// <summary>Matmul FLOPs of one forward pass per token of a length-T sequence whose <paramref name="predictedFraction"/>
    /// of positions go through the MLM head (the objective decides which), counting attention.</summary>
    public double ForwardFlopsPerToken(int T, double predictedFraction)
    {
        var c = Config;
        double perLayer = 2.0 * c.Embd * 3 * c.Embd + 2.0 * c.Embd * c.Embd + 2.0 * 2 * c.Embd * c.Intermediate
            + 2.0 * 2 * T * c.Embd;   // QKᵀ and A·V over all T keys (bidirectional)
        double mlmHead = predictedFraction * (2.0 * c.Embd * c.Embd + 2.0 * c.Embd * c.VocabSize);
        return c.Layers * perLayer + mlmHead;
    }

    int[] Rows(int n)
    {
        if (_rows.Length < n) _rows = new int[n];
        return _rows;
    }

    /// <summary>One post-LN encoder layer: x = LN(x + Dropout(Attn(x))); x = LN(x + Dropout(MLP(x))).</summary>
    sealed class Layer(LinearLayer query, LinearLayer key, LinearLayer value, LinearLayer attnOut, NormLayer attnNorm,
        LinearLayer intermediate, LinearLayer output, NormLayer outputNorm)
    {
        public Tensor Forward(BertModel model, Tensor x, int B, int T, int H, ReadOnlySpan<int> lengths)
        {
            int C = x.Dim(-1), D = C / H;
            // (B,T,C) → (B,T,H,D) → (B,H,T,D); the attention makes its inputs contiguous.
            Tensor Heads(LinearLayer proj) => Ops.Permute(Ops.Reshape(proj.Forward(x), B, T, H, D), 0, 2, 1, 3);
            var (rate, seed) = model.AttentionDropout(model.Config.AttentionDropout);   // attention_probs_dropout_prob
            var y = Ops.Attention(Heads(query), Heads(key), Heads(value), causal: false, keyLengths: lengths, dropout: rate, dropoutSeed: seed);   // (B,H,T,D)
            y = Ops.Reshape(Ops.Contiguous(Ops.Transpose(y, 1, 2)), B, T, C);
            x = attnNorm.Forward(Ops.Add(x, model.Dropout(attnOut.Forward(y))));
            var m = Ops.Gelu(intermediate.Forward(x), tanhApproximation: false);   // (B,T,I), erf GELU
            return outputNorm.Forward(Ops.Add(x, model.Dropout(output.Forward(m))));
        }
    }
}
