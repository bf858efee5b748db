using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>A classifier's figures on a labelled set: accuracy, mean cross-entropy, and accuracy per class.</summary>
public sealed record ClassifierScore(int Count, double Accuracy, double Loss, double[] PerClassAccuracy, int[] PerClassCount);

/// <summary>Evaluates an image classifier on a labelled set in batches, without gradients (dropout off).</summary>
public static class ClassifierEvaluation
{
    /// <summary>Accuracy (top-1), mean cross-entropy and per-class accuracy of <paramref name="model"/> on the first
    /// <paramref name="limit"/> images of <paramref name="set"/> (all when 0).</summary>
    public static ClassifierScore Evaluate(VitModel model, ImageSet set, int batchSize = 250, int limit = 0)
    {
        int count = limit > 0 ? Math.Min(limit, set.Count) : set.Count, labels = model.Config.Labels;
        if (labels == 0) throw new ArgumentException("evaluate: the model has no classifier (num_labels 0)");
        if (set.Channels != model.Config.Channels || set.Height != model.Config.ImageSize || set.Width != model.Config.ImageSize)
            throw new ArgumentException($"evaluate: the images are {set.Channels}×{set.Height}×{set.Width}, the model takes {model.Config.Channels}×{model.Config.ImageSize}×{model.Config.ImageSize}");
        if (set.ClassNames.Count > labels)
            throw new ArgumentException($"evaluate: the set has {set.ClassNames.Count} classes, the model's classifier {labels}");
        bool training = model.Training;
        model.Training = false;
        var correct = new int[labels];
        var seen = new int[labels];
        double lossSum = 0;
        var indices = new int[batchSize];
        using var tape = new Tape();
        try
        {
            for (int start = 0; start < count; start += batchSize)
            {
                int n = Math.Min(batchSize, count - start);
                for (int i = 0; i < n; i++) indices[i] = start + i;
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                {
                    using var batch = set.Batch(indices.AsSpan(0, n));
                    var logits = model.Logits(batch);                               // (n, labels)
                    var labelSpan = set.Labels.AsSpan(start, n);
                    lossSum += (double)Ops.CrossEntropy(logits, labelSpan).Item() * n;
                    var z = logits.AsSpan();
                    for (int i = 0; i < n; i++)
                    {
                        var row = z.Slice(i * labels, labels);
                        int best = 0;
                        for (int k = 1; k < labels; k++) if (row[k] > row[best]) best = k;
                        int truth = labelSpan[i];
                        seen[truth]++;
                        if (best == truth) correct[truth]++;
                    }
                }
            }
        }
        finally { model.Training = training; }
        var perClass = new double[labels];
        for (int k = 0; k < labels; k++) perClass[k] = seen[k] == 0 ? double.NaN : (double)correct[k] / seen[k];
        return new ClassifierScore(count, count == 0 ? double.NaN : (double)correct.Sum() / count, count == 0 ? double.NaN : lossSum / count, perClass, seen);
    }
}
