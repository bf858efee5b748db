using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Evaluation;

/// <summary>How well predicted classes match the true ones: accuracy, and per class precision, recall and F1 from the
/// confusion matrix. <see cref="F1"/> is the positive class's (class 1 of two, e.g. spam), the usual figure for a
/// binary detector; <see cref="MacroF1"/> the unweighted mean over classes.</summary>
/// <param name="Confusion">Counts [true class, predicted class].</param>
/// <param name="Loss">Mean cross-entropy (nats) of the true classes, or NaN when only predictions were given.</param>
public sealed record ClassificationMetrics(ClassLabels Labels, int[,] Confusion, double Loss)
{
    public int Total { get { int n = 0; foreach (int c in Confusion) n += c; return n; } }

    public int Correct { get { int n = 0; for (int i = 0; i < Labels.Count; i++) n += Confusion[i, i]; return n; } }

    public double Accuracy => Total == 0 ? double.NaN : (double)Correct / Total;

    /// <summary>TP / (TP + FP) of class <paramref name="c"/>; 0 when it is never predicted.</summary>
    public double Precision(int c) { int p = Column(c); return p == 0 ? 0 : (double)Confusion[c, c] / p; }

    /// <summary>TP / (TP + FN) of class <paramref name="c"/>; 0 when it never occurs.</summary>
    public double Recall(int c) { int t = Row(c); return t == 0 ? 0 : (double)Confusion[c, c] / t; }

    /// <summary>2·TP / (2·TP + FP + FN) of class <paramref name="c"/> (the harmonic mean of precision and recall;
    /// 0 when the class is neither present nor predicted).</summary>
    public double F1Of(int c) { int d = Row(c) + Column(c); return d == 0 ? 0 : 2.0 * Confusion[c, c] / d; }

    /// <summary>The positive class's F1 for two classes (class 1); <see cref="MacroF1"/> for more.</summary>
    public double F1 => Labels.Count == 2 ? F1Of(1) : MacroF1;

    public double MacroF1 { get { double s = 0; for (int c = 0; c < Labels.Count; c++) s += F1Of(c); return s / Labels.Count; } }

    int Row(int c) { int n = 0; for (int j = 0; j < Labels.Count; j++) n += Confusion[c, j]; return n; }
    int Column(int c) { int n = 0; for (int i = 0; i < Labels.Count; i++) n += Confusion[i, c]; return n; }

    /// <summary>Metrics of predictions against truths (same length, ids in range).</summary>
    public static ClassificationMetrics From(ClassLabels labels, ReadOnlySpan<int> truth, ReadOnlySpan<int> predicted, double loss = double.NaN)
    {
        if (truth.Length != predicted.Length) throw new ArgumentException($"{truth.Length} true classes but {predicted.Length} predictions");
        var confusion = new int[labels.Count, labels.Count];
        for (int i = 0; i < truth.Length; i++)
        {
            if ((uint)truth[i] >= (uint)labels.Count || (uint)predicted[i] >= (uint)labels.Count)
                throw new ArgumentException($"item {i}: class {truth[i]} / prediction {predicted[i]} is outside 0..{labels.Count - 1}");
            confusion[truth[i], predicted[i]]++;
        }
        return new ClassificationMetrics(labels, confusion, loss);
    }

    /// <summary>The majority-class baseline: every item predicted as the class most frequent in
    /// <paramref name="training"/> (ties: the lower id), scored on <paramref name="truth"/>.</summary>
    public static ClassificationMetrics MajorityBaseline(ClassLabels labels, ReadOnlySpan<int> training, ReadOnlySpan<int> truth)
    {
        var counts = new int[labels.Count];
        foreach (int t in training) counts[t]++;
        int majority = Array.IndexOf(counts, counts.Max());
        var predicted = new int[truth.Length];
        Array.Fill(predicted, majority);
        return From(labels, truth, predicted);
    }

    /// <summary>Runs <paramref name="model"/> (no dropout, no gradients) over <paramref name="examples"/>,
    /// <paramref name="batchSize"/> at a time (grouped by length, each batch padded to its longest), and scores the
    /// arg-max class (ties: the lower id) and the mean cross-entropy. Deterministic.</summary>
    public static ClassificationMetrics Evaluate(BertClassifier model, ClassificationExamples examples, int batchSize = 32)
    {
        if (batchSize <= 0) throw new ArgumentException($"--batch-size: {batchSize} must be positive");
        var items = examples.Items;
        int n = items.Count, K = model.Labels.Count;
        if (examples.Labels.Count != K) throw new ArgumentException($"the examples have {examples.Labels.Count} classes but the model {K}");
        // By length, so a batch pads little; a stable sort keeps the result independent of anything but the data.
        var order = Enumerable.Range(0, n).OrderBy(i => items[i].Ids.Length).ToArray();
        var truth = new int[n];
        var predicted = new int[n];
        double nats = 0;
        var saved = model.DropoutRng;
        model.DropoutRng = null;
        using var tape = new Tape();
        try
        {
            for (int start = 0; start < n; start += batchSize)
            {
                int B = Math.Min(batchSize, n - start), T = items[order[start + B - 1]].Ids.Length;
                var ids = new int[B * T];
                var lengths = new int[B];
                for (int b = 0; b < B; b++)
                {
                    var e = items[order[start + b]];
                    e.Ids.CopyTo(ids, b * T);
                    ids.AsSpan(b * T + e.Ids.Length, T - e.Ids.Length).Fill(model.Config.PadId);
                    lengths[b] = e.Ids.Length;
                }
                float[] logits;
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                    logits = model.Logits(ids, lengths, B, T).ToArray();   // (B, K)
                for (int b = 0; b < B; b++)
                {
                    var row = logits.AsSpan(b * K, K);
                    int best = 0;
                    for (int k = 1; k < K; k++) if (row[k] > row[best]) best = k;
                    double max = row[best], sum = 0;
                    for (int k = 0; k < K; k++) sum += Math.Exp(row[k] - max);
                    int label = items[order[start + b]].Label;
                    nats += max + Math.Log(sum) - row[label];   // −log softmax(row)[label]
                    truth[start + b] = label;
                    predicted[start + b] = best;
                }
            }
        }
        finally { model.DropoutRng = saved; }
        return From(model.Labels, truth, predicted, n == 0 ? double.NaN : nats / n);
    }
}
