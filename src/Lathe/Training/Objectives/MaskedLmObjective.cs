using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>BERT's pre-training objective (Devlin et al. 2019 §3.1): masked LM over ~15% of positions plus
/// next-sentence prediction, built from raw corpus rows by <see cref="BertPretrainingBatch"/> (sentence pairs,
/// masking) with the batch seed. Loss = mean MLM cross-entropy over labelled positions + mean NSP cross-entropy,
/// as Hugging Face's BertForPreTraining computes it.</summary>
public sealed class MaskedLmObjective(ModelConfig config) : ITrainingObjective
{
    readonly BertPretrainingBatch _data = new(config);
    int[] _rows = [], _labels = [];   // reused: the labelled positions and their labels

    public string Name => "masked-lm+nsp";

    /// <summary>Per corpus token: the encoder over each row's sequence and the MLM head over the masked share of it.</summary>
    public double ForwardFlopsPerToken(LanguageModel model, int T) =>
        ((BertModel)model).ForwardFlopsPerToken(BertPretrainingBatch.SequenceLength(T), BertPretrainingBatch.MaskFraction);

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        _data.Build(batch.Inputs, batch.Targets, batch.B, batch.T, batch.Seed);
        return Loss((BertModel)model, _data.Ids, _data.TokenTypes, default, _data.MlmLabels, _data.NspLabels, batch.B, _data.Length);
    }

    /// <summary>MLM + NSP loss of prepared inputs: <paramref name="mlmLabels"/> (B·T, −100 = not predicted) and
    /// <paramref name="nspLabels"/> (B). Only the labelled rows go through the MLM head (the same loss as scoring
    /// every position, for ~15% of the vocabulary matmul).</summary>
    public Tensor Loss(BertModel model, ReadOnlySpan<int> ids, ReadOnlySpan<int> tokenTypes, ReadOnlySpan<int> lengths,
        ReadOnlySpan<int> mlmLabels, ReadOnlySpan<int> nspLabels, int B, int T)
    {
        if (mlmLabels.Length != B * T || nspLabels.Length != B)
            throw new ArgumentException($"bert: {mlmLabels.Length} MLM labels and {nspLabels.Length} NSP labels for B={B}, T={T}.");
        var hidden = model.Encode(ids, tokenTypes, lengths, B, T);                  // (B·T, C)
        var nsp = Ops.CrossEntropy(model.NextSentenceLogits(hidden, B, T), nspLabels);
        if (_rows.Length < B * T) { _rows = new int[B * T]; _labels = new int[B * T]; }
        int m = 0;
        for (int i = 0; i < mlmLabels.Length; i++)
            if (mlmLabels[i] != BertModel.IgnoreLabel) { _rows[m] = i; _labels[m] = mlmLabels[i]; m++; }
        if (m == 0) return nsp;
        var logits = model.MaskedLmLogits(Ops.Embedding(hidden, _rows.AsSpan(0, m)));  // (M, V)
        return Ops.Add(Ops.CrossEntropy(logits, _labels.AsSpan(0, m)), nsp);
    }
}
