using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Vision.Metrics;

/// <summary>The Fréchet distance between two Gaussians fitted to feature vectors (Dowson &amp; Landau 1982; used as FID
/// by Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule…", eq. 6):
/// d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁^½ Σ₂ Σ₁^½)^½).
/// Tr((Σ₁^½ Σ₂ Σ₁^½)^½) equals Tr((Σ₁Σ₂)^½), which is what FID code computes with a general matrix square root; here
/// both roots are of symmetric positive semi-definite matrices, taken from a symmetric eigendecomposition
/// (<see cref="SymmetricEigen"/>) with round-off negative eigenvalues clamped at 0.</summary>
/// <remarks>On Lathe's own Fashion-MNIST classifier's features this is "a Fréchet distance", not FID: FID means the
/// Inception-v3 pool features of Heusel et al., and numbers on other features are not comparable with published FIDs.</remarks>
public static class FrechetDistance
{
    /// <summary>d² between two fitted Gaussians (the number FID reports is this squared distance).</summary>
    public static double Squared(FeatureStatistics a, FeatureStatistics b)
    {
        int d = a.Dimension;
        if (b.Dimension != d) throw new ArgumentException($"FrechetDistance: feature dimensions differ ({a.Dimension} and {b.Dimension})");
        double meanTerm = 0, traces = 0;
        for (int i = 0; i < d; i++)
        {
            double diff = a.Mean[i] - b.Mean[i];
            meanTerm += diff * diff;
            traces += a.Covariance[i * d + i] + b.Covariance[i * d + i];
        }
        return Math.Max(0, meanTerm + traces - 2 * TraceSqrtProduct(a.Covariance, b.Covariance, d));
    }

    /// <summary>Tr((Σ₁^½ Σ₂ Σ₁^½)^½) for symmetric PSD Σ₁, Σ₂ (d×d row-major).</summary>
    public static double TraceSqrtProduct(double[] s1, double[] s2, int d)
    {
        var root = SquareRoot(s1, d);              // Σ₁^½ = V diag(√λ⁺) Vᵀ
        var m = Multiply(Multiply(root, s2, d), root, d);
        for (int i = 0; i < d; i++)                // symmetrise away round-off before the symmetric solver
            for (int j = i + 1; j < d; j++) m[i * d + j] = m[j * d + i] = 0.5 * (m[i * d + j] + m[j * d + i]);
        var (values, _) = SymmetricEigen.Decompose(m, d, vectors: false);
        double trace = 0;
        foreach (double l in values) trace += Math.Sqrt(Math.Max(0, l));
        return trace;
    }

    /// <summary>The symmetric square root of a symmetric PSD matrix, negative round-off eigenvalues clamped at 0.</summary>
    public static double[] SquareRoot(double[] s, int d)
    {
        var (values, vectors) = SymmetricEigen.Decompose(s, d);
        var v = vectors!;
        var root = new double[d * d];
        for (int k = 0; k < d; k++)
        {
            double r = Math.Sqrt(Math.Max(0, values[k]));
            if (r == 0) continue;
            for (int i = 0; i < d; i++)
            {
                double vik = v[i * d + k] * r;
                for (int j = 0; j < d; j++) root[i * d + j] += vik * v[j * d + k];
            }
        }
        return root;
    }

    /// <summary>The statistics of <paramref name="features"/>' vectors for <paramref name="images"/> (N, C, H, W), run in
    /// batches of <paramref name="batchSize"/> without recording gradients.</summary>
    public static FeatureStatistics Statistics(IImageFeatures features, Tensor images, int batchSize = 256)
    {
        if (images.Rank != 4) throw new ArgumentException($"FrechetDistance: images must be (N, C, H, W), got {Tensor.ShapeString(images.Shape)}");
        if (batchSize < 1) throw new ArgumentException($"FrechetDistance: batch size {batchSize} must be at least 1");
        int n = images.Dim(0), perImage = images.Length / Math.Max(1, n);
        float[]? copy = images.IsContiguous ? null : images.ToArray();
        var acc = new FeatureStatistics.Accumulator(features.Dimension);
        using var noGrad = Tape.NoGrad();
        bool owned = Tape.Current is null;
        for (int start = 0; start < n; start += batchSize)
        {
            int count = Math.Min(batchSize, n - start);
            ReadOnlySpan<float> source = copy is null ? images.AsSpan() : copy;
            using var batch = Tensor.FromArray(source.Slice(start * perImage, count * perImage), count, images.Dim(1), images.Dim(2), images.Dim(3));
            var f = features.Features(batch);   // (count, D)
            try
            {
                if (f.Rank != 2 || f.Dim(0) != count || f.Dim(1) != features.Dimension)
                    throw new InvalidOperationException($"FrechetDistance: the feature extractor returned {Tensor.ShapeString(f.Shape)} for {count} images, not ({count}, {features.Dimension})");
                acc.Add(f.IsContiguous ? f.AsSpan() : f.ToArray());
            }
            finally { if (owned) f.Dispose(); }
        }
        return acc.Result();
    }

    /// <summary>d² between the feature Gaussians of <paramref name="real"/> and <paramref name="generated"/> images
    /// (each (N, C, H, W), N ≥ 2, in the range the feature model takes).</summary>
    public static double Between(IImageFeatures features, Tensor real, Tensor generated, int batchSize = 256) =>
        Squared(Statistics(features, real, batchSize), Statistics(features, generated, batchSize));

    static double[] Multiply(double[] a, double[] b, int d)
    {
        var c = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
            {
                double aik = a[i * d + k];
                if (aik == 0) continue;
                for (int j = 0; j < d; j++) c[i * d + j] += aik * b[k * d + j];
            }
        return c;
    }
}
