using Lathe.Tensors;

namespace Lathe.Vision.Training;

/// <summary>CLIP's symmetric contrastive loss (Radford et al. 2021, Figure 3): for N matching (image, text) pairs with
/// L2-normalised embeddings I, T (N, D) and a learned log-scale s, the logits are exp(min(s, ln 100)) · I Tᵀ (N, N);
/// the loss is the mean of the cross-entropy of each row against its diagonal (image → text) and of each column
/// against its diagonal (text → image). The clamp follows the paper's "clipped to prevent scaling the logits by more
/// than 100"; like torch.clamp it passes no gradient to s while s is above ln 100.</summary>
public static class ContrastiveLoss
{
    [ThreadStatic] static int[]? _diagonal;

    /// <summary>x (N, D) → each row divided by its Euclidean norm (torch.nn.functional.normalize with p = 2; rows are
    /// assumed not to be zero).</summary>
    public static Tensor Normalize(Tensor x)
    {
        var norm = Ops.Sqrt(Ops.Sum(Ops.Mul(x, x), 1, keepDim: true));   // (N,1)
        return Ops.Div(x, norm);                                          // (N,D)
    }

    /// <summary>The scaled similarities exp(min(s, ln 100)) · image textᵀ (N, M) of normalised embeddings.</summary>
    public static Tensor Logits(Tensor image, Tensor text, Tensor logScale) =>
        Ops.Mul(Ops.MatMul(image, text, transB: true), Scale(logScale));

    static Tensor Scale(Tensor logScale) => Ops.Exp(Ops.Clamp(logScale, float.NegativeInfinity, MathF.Log(100f)));   // (1)

    /// <summary>The loss of N matching pairs: image (N, D) and text (N, D) normalised, logScale (1).</summary>
    public static Tensor Forward(Tensor image, Tensor text, Tensor logScale)
    {
        if (image.Rank != 2 || text.Rank != 2 || image.Dim(0) != text.Dim(0) || image.Dim(1) != text.Dim(1))
            throw new ArgumentException($"ContrastiveLoss: image {Tensor.ShapeString(image.Shape)} and text {Tensor.ShapeString(text.Shape)} must both be (N, D)");
        int n = image.Dim(0);
        var targets = Diagonal(n);
        var scale = Scale(logScale);
        var perImage = Ops.Mul(Ops.MatMul(image, text, transB: true), scale);   // (N,N): row i = image i against every text
        var perText = Ops.Mul(Ops.MatMul(text, image, transB: true), scale);    // (N,N): its transpose, row j = text j
        return Ops.Scale(Ops.Add(Ops.CrossEntropy(perImage, targets), Ops.CrossEntropy(perText, targets)), 0.5f);
    }

    static ReadOnlySpan<int> Diagonal(int n)
    {
        if (_diagonal is null || _diagonal.Length < n)
        {
            _diagonal = new int[Math.Max(n, 64)];
            for (int i = 0; i < _diagonal.Length; i++) _diagonal[i] = i;
        }
        return _diagonal.AsSpan(0, n);
    }
}
