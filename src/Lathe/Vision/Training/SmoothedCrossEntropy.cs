using Lathe.Tensors;

namespace Lathe.Vision.Training;

/// <summary>Cross-entropy with label smoothing (Szegedy et al. 2016, "Rethinking the Inception Architecture", §7):
/// the one-hot target of class y becomes (1 − ε)·onehot(y) + ε/K over the K classes, so the loss of a row is
/// (1 − ε)·(−log p_y) + ε·(1/K)·Σ_k (−log p_k), averaged over the rows — the definition of PyTorch's
/// CrossEntropyLoss(label_smoothing = ε) with mean reduction. ε = 0 is plain cross-entropy.</summary>
public static class SmoothedCrossEntropy
{
    /// <summary>logits (N, K), labels (N) in [0, K) → the mean smoothed cross-entropy (a scalar).</summary>
    public static Tensor Forward(Tensor logits, ReadOnlySpan<int> labels, float smoothing)
    {
        if (!(smoothing >= 0 && smoothing < 1)) throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "label smoothing must be in [0, 1)");
        if (logits.Rank != 2 || logits.Dim(0) != labels.Length)
            throw new ArgumentException($"SmoothedCrossEntropy: logits {Tensor.ShapeString(logits.Shape)} must be (N, K) with N = {labels.Length} labels");
        var hard = Ops.CrossEntropy(logits, labels);
        if (smoothing == 0) return hard;
        var uniform = Ops.Scale(Ops.MeanAll(Ops.LogSoftmax(logits)), -1f);   // mean over rows and classes of −log p_k
        return Ops.Add(Ops.Scale(hard, 1 - smoothing), Ops.Scale(uniform, smoothing));
    }
}
