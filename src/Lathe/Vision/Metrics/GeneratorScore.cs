using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;

namespace Lathe.Vision.Metrics;

/// <summary>The pooled features of a trained ViT classifier (<see cref="VitModel.Features"/>, dropout off) as the
/// feature space of a Fréchet distance. Images go in as the classifier was trained on them: (N, C, H, W) in [0, 1]
/// (<see cref="VitClassifierTraining"/> fills its batches with <c>ImageSet.Fill</c>'s default, bytes / 255).</summary>
public sealed class VitImageFeatures(VitModel model) : IImageFeatures
{
    public int Dimension => model.Config.Width;

    public Tensor Features(Tensor images)
    {
        model.Training = false;
        return model.Features(images);   // (N, C, H, W) → (N, hidden_size)
    }
}

/// <summary>What <see cref="GeneratorScore"/> measured. <see cref="FrechetDistance"/> and <see cref="RealBaseline"/>
/// are squared Fréchet distances (d², the quantity FID reports) on the classifier's pooled features — not Inception
/// FID, and not comparable with published FIDs. <see cref="ConditionalAccuracy"/> is null for unconditional
/// generators.</summary>
public sealed record GeneratorScoreResult(
    int Count,
    double FrechetDistance,
    double RealBaseline,
    double? ConditionalAccuracy,
    double[]? PerClassConditionalAccuracy,
    double ClassifierAccuracy,
    int FeatureDimension);

/// <summary>Scores a generator with a trained classifier: N generated images against N real test images by the Fréchet
/// distance of their feature Gaussians (Heusel et al. 2017, eq. 6, on our ViT's features), beside the same distance
/// between two disjoint sets of N real test images — the floor a perfect generator would reach at this N, since d² is
/// biased upward by finite samples. For a class-conditional generator, N/10 images of each class (label i mod classes)
/// and how often the classifier names the requested class ("classification accuracy score" in the sense of Ravuri &amp;
/// Vinyals 2019 turned around: the real-data classifier judges the samples), beside the classifier's accuracy on the
/// 2N real images, its ceiling.</summary>
public static class GeneratorScore
{
    /// <summary>The labels a class-conditional generator is asked for: label i mod <paramref name="classes"/>, so each
    /// class gets ⌊N/classes⌋ or one more images and a grid of <paramref name="classes"/> columns shows one class per
    /// column. Empty for an unconditional generator.</summary>
    public static int[] RequestedLabels(IImageGenerator generator, int count)
    {
        if (!generator.ClassConditional) return [];
        var labels = new int[count];
        for (int i = 0; i < count; i++) labels[i] = i % generator.Classes;
        return labels;
    }

    /// <summary>Draws <paramref name="count"/> images from <paramref name="generator"/> with <paramref name="seed"/> and
    /// scores them (<see cref="Evaluate"/>).</summary>
    public static GeneratorScoreResult Score(VitModel classifier, ImageSet test, IImageGenerator generator, int count, ulong seed)
    {
        if (generator.ClassConditional && generator.Classes > classifier.Config.Labels)
            throw new ArgumentException($"score: the generator has {generator.Classes} classes, the classifier {classifier.Config.Labels}");
        var labels = RequestedLabels(generator, count);
        using var samples = generator.Sample(count, labels, seed);
        return Evaluate(classifier, test, samples, labels, seed);
    }

    /// <summary>Scores <paramref name="samples"/> (N, C, H, W) in [0, 1]: d² against N real test images drawn by a
    /// permutation seeded with <paramref name="seed"/>, d² between those and the next N (the baseline), and — when
    /// <paramref name="labels"/> holds N requested classes — the classifier's accuracy on the samples. Needs 2N ≤ the
    /// test set's size and N ≥ 2.</summary>
    public static GeneratorScoreResult Evaluate(VitModel classifier, ImageSet test, Tensor samples, ReadOnlySpan<int> labels, ulong seed, int batchSize = 250)
    {
        var c = classifier.Config;
        if (c.Labels == 0) throw new ArgumentException("score: the classifier has no head (num_labels 0)");
        classifier.CheckImages(samples);
        if (test.Channels != c.Channels || test.Height != c.ImageSize || test.Width != c.ImageSize)
            throw new ArgumentException($"score: the test images are {test.Channels}×{test.Height}×{test.Width}, the classifier takes {c.Channels}×{c.ImageSize}×{c.ImageSize}");
        int n = samples.Dim(0);
        if (n < 2) throw new ArgumentException($"score: {n} images are too few for a covariance (at least 2)");
        if (2 * n > test.Count) throw new ArgumentException($"score: {n} images need 2×{n} real test images for the distance and its baseline; the test set has {test.Count}");
        if (labels.Length != 0 && labels.Length != n) throw new ArgumentException($"score: {labels.Length} labels for {n} samples");
        foreach (int y in labels)
            if ((uint)y >= (uint)c.Labels) throw new ArgumentException($"score: label {y} is outside the classifier's {c.Labels} classes");

        var order = RealIndices(test.Count, n, seed);
        var realLabels = new int[2 * n];
        for (int i = 0; i < 2 * n; i++) realLabels[i] = test.Labels[order[i]];
        using var real = Tensor.Empty(2 * n, c.Channels, c.ImageSize, c.ImageSize);
        test.Fill(real, order);

        var correctPerClass = new int[c.Labels];
        var seenPerClass = new int[c.Labels];
        int half = n * c.Channels * c.ImageSize * c.ImageSize;
        ReadOnlySpan<float> realPixels = real.AsSpan();
        var a = Pass(classifier, realPixels[..half], n, realLabels.AsSpan(0, n), correctPerClass, seenPerClass, batchSize);
        var b = Pass(classifier, realPixels[half..], n, realLabels.AsSpan(n), correctPerClass, seenPerClass, batchSize);
        double classifierAccuracy = (double)correctPerClass.Sum() / (2 * n);

        Array.Clear(correctPerClass);
        Array.Clear(seenPerClass);
        float[]? copy = samples.IsContiguous ? null : samples.ToArray();
        var g = Pass(classifier, copy is null ? samples.AsSpan() : copy, n, labels, correctPerClass, seenPerClass, batchSize);

        double? conditional = null;
        double[]? perClass = null;
        if (labels.Length == n)
        {
            conditional = (double)correctPerClass.Sum() / n;
            perClass = new double[c.Labels];
            for (int k = 0; k < c.Labels; k++) perClass[k] = seenPerClass[k] == 0 ? double.NaN : (double)correctPerClass[k] / seenPerClass[k];
        }
        return new GeneratorScoreResult(n, Metrics.FrechetDistance.Squared(a, g), Metrics.FrechetDistance.Squared(a, b),
            conditional, perClass, classifierAccuracy, c.Width);
    }

    /// <summary>The test-set indices of the real images <see cref="Evaluate"/> uses: the first 2N of a permutation seeded
    /// with <paramref name="seed"/>; the first N are compared with the samples, the next N form the baseline.</summary>
    public static int[] RealIndices(int testCount, int n, ulong seed)
    {
        var order = new int[2 * n];
        new BatchOrder(testCount, seed ^ 0x5C0_7E57UL).Batch(0, 2 * n, order);
        return order;
    }

    /// <summary>One no-gradient pass of the classifier over n images (n·C·H·W values): the statistics of their pooled
    /// features, and, when <paramref name="labels"/> is given, per-class counts of top-1 predictions equal to it.</summary>
    static FeatureStatistics Pass(VitModel model, ReadOnlySpan<float> pixels, int n, ReadOnlySpan<int> labels,
        int[] correctPerClass, int[] seenPerClass, int batchSize)
    {
        var cfg = model.Config;
        int per = cfg.Channels * cfg.ImageSize * cfg.ImageSize, classes = cfg.Labels;
        var acc = new FeatureStatistics.Accumulator(cfg.Width);
        bool training = model.Training;
        model.Training = false;
        using var tape = new Tape();
        try
        {
            for (int start = 0; start < n; start += batchSize)
            {
                int m = Math.Min(batchSize, n - start);
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                {
                    using var batch = Tensor.FromArray(pixels.Slice(start * per, m * per), m, cfg.Channels, cfg.ImageSize, cfg.ImageSize);
                    var features = model.Features(batch);                       // (m, C)
                    acc.Add(features.IsContiguous ? features.AsSpan() : features.ToArray());
                    if (labels.IsEmpty) continue;
                    var logits = model.LogitsFromFeatures(features).AsSpan();    // (m, labels)
                    for (int i = 0; i < m; i++)
                    {
                        var row = logits.Slice(i * classes, classes);
                        int best = 0;
                        for (int k = 1; k < classes; k++) if (row[k] > row[best]) best = k;
                        int truth = labels[start + i];
                        seenPerClass[truth]++;
                        if (best == truth) correctPerClass[truth]++;
                    }
                }
            }
        }
        finally { model.Training = training; }
        return acc.Result();
    }
}
