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

    readonly BertEncoder _encoder;
    readonly LinearLayer _transform, _nsp;
    readonly NormLayer _transformNorm;
    readonly Tensor _mlmBias;   // (V)

    internal BertModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    BertModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        // HF BertPreTrainedModel._init_weights: every matrix and embedding N(0, initializer_range), biases 0, norms 1.
        float std = c.InitStd;
        _encoder = new BertEncoder(c, p);
        _transform = BertEncoder.Dense(p, "cls.predictions.transform.dense", c.Embd, c.Embd, std);
        _transformNorm = new NormLayer(p, "cls.predictions.transform.LayerNorm", c.Embd, rms: false, c.NormEps);
        _mlmBias = p.Constant("cls.predictions.bias", 0f, c.VocabSize);   // the decoder's weight is the word embeddings (tied)
        _nsp = BertEncoder.Dense(p, "cls.seq_relationship", c.Embd, 2, std);
    }

    /// <summary>The encoder's last hidden states (B·T, C) for <paramref name="ids"/> and <paramref name="tokenTypes"/>
    /// laid out (B, T). <paramref name="lengths"/> (one per row, or empty for no padding) hides keys at positions
    /// ≥ length — right padding, like HF's attention_mask of 1s then 0s. Padded positions still get outputs.</summary>
    public Tensor Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
        => _encoder.Encode(this, ids, tokenTypes, lengths, B, T);

    /// <summary>MLM prediction scores (N, V) of hidden rows (N, C): transform (dense, GELU, LayerNorm), then the
    /// decoder tied to the word embeddings, plus cls.predictions.bias.</summary>
    public Tensor MaskedLmLogits(Tensor hidden)
    {
        var h = _transformNorm.Forward(Ops.Gelu(_transform.Forward(hidden), tanhApproximation: false));
        return Ops.Linear(h, _encoder.WordEmbeddings, _mlmBias);
    }

    /// <summary>Next-sentence scores (B, 2) from the hidden states (B·T, C): the pooler (dense + tanh) on each row's
    /// first ([CLS]) position, then cls.seq_relationship. Class 0 = B continues A, 1 = B is random (HF convention).</summary>
    public Tensor NextSentenceLogits(Tensor hidden, int B, int T) => _nsp.Forward(_encoder.Pool(hidden, B, T));

    /// <summary>Matmul FLOPs of one forward pass per token of a length-T sequence whose <paramref name="predictedFraction"/>
    /// of positions go through the MLM head (the objective decides which), counting attention.</summary>
    public double ForwardFlopsPerToken(int T, double predictedFraction)
    {
        var c = Config;
        double mlmHead = predictedFraction * (2.0 * c.Embd * c.Embd + 2.0 * c.Embd * c.VocabSize);
        return _encoder.ForwardFlopsPerToken(T) + mlmHead;
    }

    /// <summary>The encoder's projections and pooler (<see cref="BertEncoder.Linears"/>), then the pre-training heads'
    /// cls.predictions.transform.dense and cls.seq_relationship (the MLM decoder is the tied word embedding, not a layer).</summary>
    private protected override IEnumerable<LinearLayer> LinearLayers()
    {
        foreach (var layer in _encoder.Linears()) yield return layer;
        yield return _transform;
        yield return _nsp;
    }
}
