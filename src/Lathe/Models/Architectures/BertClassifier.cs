using Lathe.Formats;
using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>BERT for sequence classification, as Hugging Face's BertForSequenceClassification: the shared BERT body
/// (<see cref="BertEncoder"/>: embeddings, post-LN encoder, pooler = tanh(dense(h[CLS]))), dropout with
/// hidden_dropout_prob on the pooled output, then <c>classifier</c> (num_labels, C) + bias. Parameter names are HF's,
/// so its model.safetensors loads in transformers. The config's <see cref="ModelConfig.Labels"/> makes a BERT config a
/// classifier's; its objective is Training/Objectives/SequenceClassificationObjective.</summary>
public sealed class BertClassifier : LanguageModel
{
    /// <summary>The head's parameter names: what loading a pre-trained (MLM) checkpoint initialises fresh, and what
    /// a parameter-efficient method trains besides its own weights (PEFT's modules_to_save for SEQ_CLS).</summary>
    public const string HeadName = "classifier";

    readonly BertEncoder _encoder;
    readonly LinearLayer _classifier;
    int[] _types = [];   // reused: all-zero segment ids for single-text inputs

    internal BertClassifier(ModelConfig config, ulong seed) : this(config, new ParameterBuilder(seed)) { }

    BertClassifier(ModelConfig c, ParameterBuilder p) : base(c, p.Parameters)
    {
        if (c.Labels is null) throw new ArgumentException("bert: a classifier's config needs labels (id2label / num_labels).");
        _encoder = new BertEncoder(c, p);
        _classifier = BertEncoder.Dense(p, HeadName, c.Embd, c.NumLabels, c.InitStd);   // N(0, initializer_range), bias 0
    }

    /// <summary>The classes, by id.</summary>
    public ClassLabels Labels => Config.Labels!;

    /// <summary>classifier.weight and classifier.bias.</summary>
    public IReadOnlyList<ModelParameter> HeadParameters => Parameters.Where(p => p.Name.StartsWith(HeadName + ".", StringComparison.Ordinal)).ToArray();

    /// <summary>Class scores (B, num_labels) for single texts <paramref name="ids"/> laid out (B, T), each row
    /// "[CLS] … [SEP]" right-padded to T; <paramref name="lengths"/> (B) hides the padding (empty: no padding).</summary>
    public Tensor Logits(ReadOnlySpan<int> ids, ReadOnlySpan<int> lengths, int B, int T)
    {
        if (_types.Length < B * T) _types = new int[B * T];
        return Logits(ids, _types.AsSpan(0, B * T), lengths, B, T);
    }

    /// <summary>Class scores (B, num_labels) with explicit segment ids (text pairs: 0 for "[CLS] A [SEP]", 1 for "B [SEP]").</summary>
    public Tensor Logits(ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
    {
        var hidden = _encoder.Encode(this, ids, tokenTypes, lengths, B, T);   // (B·T, C)
        var pooled = Dropout(_encoder.Pool(hidden, B, T));                   // (B, C)
        return _classifier.Forward(pooled);                                  // (B, num_labels)
    }

    /// <summary>The encoder's last hidden states (B·T, C), before the pooler and the head: what an embedding pools. The
    /// contract is <see cref="BertModel.Encode"/>'s.</summary>
    public Tensor Encode(ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths, int B, int T)
        => _encoder.Encode(this, ids, tokenTypes, lengths, B, T);

    /// <summary>Matmul FLOPs of one forward pass per token of a length-T sequence (the head is per sequence: negligible).</summary>
    public double ForwardFlopsPerToken(int T) => _encoder.ForwardFlopsPerToken(T);

    /// <summary>The encoder's projections and pooler, then the classifier (last, as an lm_head is for a decoder).</summary>
    private protected override IEnumerable<LinearLayer> LinearLayers()
    {
        foreach (var layer in _encoder.Linears()) yield return layer;
        yield return _classifier;
    }

    /// <summary>A classifier over a pre-trained BERT checkpoint (a folder, or a run folder holding checkpoint/): the
    /// checkpoint's config with <paramref name="labels"/>, every encoder weight from the checkpoint, and only what it
    /// lacks — the classifier (and the pooler, which Hugging Face's MLM-only checkpoints do not have) — initialised
    /// fresh from <paramref name="seed"/> (N(0, initializer_range), biases 0). <see cref="Loaded.Fresh"/> names them.
    /// A checkpoint that already is a classifier with the same number of labels loads whole; another encoder tensor
    /// missing, or a shape mismatch, is a one-line error naming it.</summary>
    public static Loaded FromPretrained(string path, ClassLabels labels, ulong seed)
    {
        string dir = Checkpoint.Resolve(path);
        var config = ModelConfig.Load(Path.Combine(dir, Checkpoint.ConfigFile));
        if (config.ModelType != "bert")
            throw new InvalidDataException($"config: {Path.Combine(dir, Checkpoint.ConfigFile)}: model_type '{config.ModelType}' is not bert; a sequence-classification head needs a BERT encoder");
        var model = new BertClassifier((config with { Labels = labels }).Validate(), seed);
        try
        {
            string file = Path.Combine(dir, Checkpoint.ModelFile);
            var fresh = Checkpoint.LoadPresentWeights(file, model);
            foreach (string name in fresh)
                if (!name.StartsWith(HeadName + ".", StringComparison.Ordinal) && !name.StartsWith("bert.pooler.", StringComparison.Ordinal))
                    throw new InvalidDataException($"checkpoint: {file}: tensor '{name}' is missing");
            return new Loaded(model, fresh);
        }
        catch { model.Dispose(); throw; }
    }

    /// <summary>A classifier made from a pre-trained checkpoint and the parameters it initialised fresh.</summary>
    public sealed record Loaded(BertClassifier Model, IReadOnlyList<string> Fresh)
    {
        /// <summary>One line for the log: "initialised fresh: classifier.weight, classifier.bias" (or "none").</summary>
        public string Note => "initialised fresh (not in the checkpoint): " + (Fresh.Count == 0 ? "none" : string.Join(", ", Fresh));
    }
}
