using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>The body every BERT model shares (Hugging Face's <c>BertModel</c>, under the prefix "bert." inside a model with
/// heads, without one alone): word + learned
/// absolute position + segment embeddings with LayerNorm; post-LN encoder layers of bidirectional multi-head attention
/// (key-padding mask) and an erf-GELU MLP; the pooler (dense + tanh on [CLS]). The heads on top — pre-training
/// (<see cref="BertModel"/>) or sequence classification (<see cref="BertClassifier"/>) — are the owners' business.</summary>
internal sealed class BertEncoder
{
    readonly ModelConfig _config;
    readonly Tensor _word;      // (V, C)
    readonly Tensor _position;  // (maxT, C)
    readonly Tensor _tokenType; // (types, C)
    readonly NormLayer _embeddingNorm;
    readonly Layer[] _layers;
    readonly LinearLayer _pooler;
    int[] _rows = [];   // reused: the gathered [CLS] row indices

    /// <summary>Registers the body's parameters in Hugging Face's order (embeddings, layers, pooler) with HF
    /// BertPreTrainedModel._init_weights: every matrix and embedding N(0, initializer_range), biases 0, norms 1.</summary>
    public BertEncoder(ModelConfig c, ParameterBuilder p, string prefix = "bert.")
    {
        _config = c;
        float std = c.InitStd;
        _word = p.Normal(prefix + "embeddings.word_embeddings.weight", std, decay: false, storedTransposed: false, c.VocabSize, c.Embd);
        _position = p.Normal(prefix + "embeddings.position_embeddings.weight", std, decay: false, storedTransposed: false, c.MaxPositions, c.Embd);
        _tokenType = p.Normal(prefix + "embeddings.token_type_embeddings.weight", std, decay: false, storedTransposed: false, c.TypeVocabSize, c.Embd);
        _embeddingNorm = new NormLayer(p, prefix + "embeddings.LayerNorm", c.Embd, rms: false, c.NormEps);
        _layers = new Layer[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string n = $"{prefix}encoder.layer.{l}";
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
        _pooler = Dense(p, prefix + "pooler.dense", c.Embd, c.Embd, std);
    }

    /// <summary>The word embedding table (V, C) — the MLM decoder is tied to it.</summary>
    public Tensor WordEmbeddings => _word;

    /// <summary>An nn.Linear with bias: (out, in) both on disk and in memory.</summary>
    public static LinearLayer Dense(ParameterBuilder p, string name, int inFeatures, int outFeatures, float std) =>
        new(p.Normal(name + ".weight", std, decay: true, storedTransposed: false, outFeatures, inFeatures),
            p.Constant(name + ".bias", 0f, outFeatures));

    /// <summary>The last hidden states (B·T, C); see <see cref="BertModel.Encode"/> for the contract.</summary>
    public Tensor Encode(LanguageModel model, ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
    {
        var c = _config;
        if (ids.Length != B * T || tokenTypes.Length != B * T)
            throw new ArgumentException($"bert: {ids.Length} ids and {tokenTypes.Length} token types for B={B}, T={T}.");
        if (T > c.MaxPositions)
            throw new ArgumentException($"bert: sequence length {T} exceeds max_position_embeddings {c.MaxPositions}.");
        if (!lengths.IsEmpty && lengths.Length != B)
            throw new ArgumentException($"bert: {lengths.Length} row lengths for B={B}.");
        int C = c.Embd;
        var word = Ops.Reshape(Ops.Embedding(_word, ids), B, T, C);                 // (B,T,C)
        var type = Ops.Reshape(Ops.Embedding(_tokenType, tokenTypes), B, T, C);    // (B,T,C)
        var x = Ops.Add(Ops.Add(word, Ops.Narrow(_position, 0, 0, T)), type);      // + (T,C) broadcast over B
        x = model.Dropout(_embeddingNorm.Forward(x));
        foreach (var layer in _layers) x = layer.Forward(model, x, B, T, c.Heads, lengths);
        return Ops.Reshape(x, B * T, C);
    }

    /// <summary>The pooled output (B, C) of hidden states (B·T, C): tanh(dense(h[CLS])) on each row's first position.</summary>
    public Tensor Pool(Tensor hidden, int B, int T)
    {
        if (_rows.Length < B) _rows = new int[B];
        for (int b = 0; b < B; b++) _rows[b] = b * T;
        var cls = Ops.Embedding(hidden, _rows.AsSpan(0, B));                        // gather (B, C)
        return Ops.Tanh(_pooler.Forward(cls));
    }

    /// <summary>Per layer query, key, value, attention.output.dense, intermediate.dense, output.dense; then the pooler.</summary>
    public IEnumerable<LinearLayer> Linears()
    {
        foreach (var layer in _layers)
            foreach (var linear in layer.Linears) yield return linear;
        yield return _pooler;
    }

    /// <summary>Matmul FLOPs of the encoder's forward pass per token of a length-T sequence, counting attention.</summary>
    public double ForwardFlopsPerToken(int T)
    {
        var c = _config;
        double perLayer = 2.0 * c.Embd * 3 * c.Embd + 2.0 * c.Embd * c.Embd + 2.0 * 2 * c.Embd * c.Intermediate
            + 2.0 * 2 * T * c.Embd;   // QKᵀ and A·V over all T keys (bidirectional)
        return c.Layers * perLayer;
    }

    /// <summary>One post-LN encoder layer: x = LN(x + Dropout(Attn(x))); x = LN(x + Dropout(MLP(x))).</summary>
    sealed class Layer(LinearLayer query, LinearLayer key, LinearLayer value, LinearLayer attnOut, NormLayer attnNorm,
        LinearLayer intermediate, LinearLayer output, NormLayer outputNorm)
    {
        public IEnumerable<LinearLayer> Linears => [query, key, value, attnOut, intermediate, output];

        public Tensor Forward(LanguageModel model, Tensor x, int B, int T, int H, ReadOnlySpan<int> lengths)
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
