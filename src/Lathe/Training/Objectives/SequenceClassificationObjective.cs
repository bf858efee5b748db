using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>Sequence classification (BertForSequenceClassification's single-label loss): mean cross-entropy of the
/// class scores of each row against its label.</summary>
/// <remarks>The batch contract (what <see cref="ClassificationBatchSource"/> writes): inputs (B, T) are
/// "[CLS] text [SEP]" right-padded with [PAD]; targets (B, T) carry the row's class id at each of its real tokens and
/// −100 (the ignore index) at its padding. A row's length is its count of leading non-ignored targets, so labels and
/// padding travel through the trainer's plain (inputs, targets) batch with no side channel.</remarks>
public sealed class SequenceClassificationObjective : ITrainingObjective
{
    int[] _labels = [], _lengths = [];   // reused per batch

    public string Name => "sequence-classification";

    /// <summary>Per token: the encoder over the row (the head runs once per row: negligible).</summary>
    public double ForwardFlopsPerToken(LanguageModel model, int T) => Classifier(model).ForwardFlopsPerToken(T);

    public Tensor Loss(LanguageModel model, in TrainingBatch batch)
    {
        var classifier = Classifier(model);
        int B = batch.B, T = batch.T;
        if (_labels.Length < B) { _labels = new int[B]; _lengths = new int[B]; }
        ReadRows(batch.Targets, B, T, classifier.Labels.Count, _labels, _lengths);
        var logits = classifier.Logits(batch.Inputs, _lengths.AsSpan(0, B), B, T);   // (B, num_labels)
        return Ops.CrossEntropy(logits, _labels.AsSpan(0, B));
    }

    /// <summary>Writes one row's targets: <paramref name="label"/> at its first <paramref name="length"/> positions,
    /// −100 after them.</summary>
    public static void WriteRow(Span<int> targets, int length, int label)
    {
        targets[..length].Fill(label);
        targets[length..].Fill(BertModel.IgnoreLabel);
    }

    /// <summary>Reads each row's label and length back from targets (B, T) laid out by <see cref="WriteRow"/>; a row
    /// that does not follow the layout, or a label outside [0, <paramref name="classes"/>), is a one-line error.</summary>
    public static void ReadRows(ReadOnlySpan<int> targets, int B, int T, int classes, Span<int> labels, Span<int> lengths)
    {
        for (int b = 0; b < B; b++)
        {
            var row = targets.Slice(b * T, T);
            int label = row[0], length = row.IndexOf(BertModel.IgnoreLabel);
            if (length < 0) length = T;
            if ((uint)label >= (uint)classes)
                throw new ArgumentException($"classification batch: row {b}: label {label} is outside 0..{classes - 1}");
            if (row[..length].ContainsAnyExcept(label) || row[length..].ContainsAnyExcept(BertModel.IgnoreLabel))
                throw new ArgumentException($"classification batch: row {b}: targets must be the label on the row's tokens, then −100 on its padding");
            labels[b] = label;
            lengths[b] = length;
        }
    }

    static BertClassifier Classifier(LanguageModel model) => model as BertClassifier
        ?? throw new ArgumentException($"sequence classification needs a BERT classifier (config with num_labels / id2label), not {model.Config.ModelType}");
}
