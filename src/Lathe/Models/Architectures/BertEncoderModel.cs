using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>BERT without heads, as Hugging Face's <c>BertModel</c> (config.json architectures ["BertModel"]): the shared
/// body (<see cref="BertEncoder"/>: embeddings, post-LN encoder, pooler) under its names without the "bert." prefix —
/// the checkpoint sentence-transformers saves for an embedding model. It computes hidden states (what
/// <see cref="Inference.Embedder"/> pools); it has no objective to pre-train or fine-tune with.</summary>
public sealed class BertEncoderModel : LanguageModel
{
    /// <summary>The pooler's parameter names: Hugging Face saves a BertModel made with add_pooling_layer=False without
    /// them, so a checkpoint may lack them (they stay initialised; nothing here reads the pooler).</summary>
    public const string PoolerPrefix = "pooler.";

    readonly BertEncoder _encoder;

    internal BertEncoderModel(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    BertEncoderModel(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        if (!c.EncoderOnly) throw new ArgumentException($"bert: a headless encoder's config says architectures [\"{ModelConfig.EncoderArchitecture}\"].");
        _encoder = new BertEncoder(c, p, prefix: "");
    }

    /// <summary>The last hidden states (B·T, C); the contract is <see cref="BertModel.Encode"/>'s.</summary>
    public Tensor Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
        => _encoder.Encode(this, ids, tokenTypes, lengths, B, T);

    /// <summary>The pooled output (B, C): tanh(dense(h[CLS])) of each row's first position.</summary>
    public Tensor Pooled(Tensor hidden, int B, int T) => _encoder.Pool(hidden, B, T);

    /// <summary>Matmul FLOPs of one forward pass per token of a length-T sequence, counting attention.</summary>
    public double ForwardFlopsPerToken(int T) => _encoder.ForwardFlopsPerToken(T);

    /// <summary>The encoder's projections, then the pooler.</summary>
    private protected override IEnumerable<LinearLayer> LinearLayers() => _encoder.Linears();
}
