using Lathe.Tensors;

namespace Lathe.Vision.Metrics;

/// <summary>The mean and covariance, in double, of N feature vectors of length D — the Gaussian the Fréchet distance
/// fits to a set of images. The covariance is the unbiased one (divided by N − 1), as numpy's <c>np.cov</c> and the
/// reference FID code compute it.</summary>
public sealed class FeatureStatistics
{
    public int Count { get; }
    public int Dimension { get; }
    /// <summary>μ, length D.</summary>
    public double[] Mean { get; }
    /// <summary>Σ, D×D row-major.</summary>
    public double[] Covariance { get; }

    public FeatureStatistics(int count, double[] mean, double[] covariance)
    {
        if (covariance.Length != mean.Length * mean.Length)
            throw new ArgumentException($"FeatureStatistics: a {mean.Length}-long mean needs a {mean.Length}×{mean.Length} covariance, got {covariance.Length} values");
        Count = count; Dimension = mean.Length; Mean = mean; Covariance = covariance;
    }

    /// <summary>The statistics of the rows of <paramref name="features"/> (N, D), N ≥ 2.</summary>
    public static FeatureStatistics Of(Tensor features)
    {
        if (features.Rank != 2) throw new ArgumentException($"FeatureStatistics: features must be (N, D), got {Tensor.ShapeString(features.Shape)}");
        var acc = new Accumulator(features.Dim(1));
        acc.Add(features.IsContiguous ? features.AsSpan() : features.ToArray());
        return acc.Result();
    }

    /// <summary>Sums feature vectors batch by batch. Sums are taken about the first vector seen (a shift that keeps
    /// the covariance free of the cancellation a raw Σxxᵀ − Nμμᵀ suffers when |μ| ≫ σ).</summary>
    public sealed class Accumulator(int dimension)
    {
        readonly double[] _shift = new double[dimension];
        readonly double[] _sum = new double[dimension];
        readonly double[] _outer = new double[dimension * dimension];   // upper triangle of Σ (x − shift)(x − shift)ᵀ
        readonly double[] _centred = new double[dimension];
        long _count;

        public int Dimension => dimension;
        public long Count => _count;

        /// <summary>Adds the rows of <paramref name="rows"/> (n × D, row-major).</summary>
        public void Add(ReadOnlySpan<float> rows)
        {
            int d = dimension;
            if (d == 0 || rows.Length % d != 0) throw new ArgumentException($"FeatureStatistics: {rows.Length} values are not rows of {d}");
            for (int r = 0; r < rows.Length / d; r++)
            {
                var x = rows.Slice(r * d, d);
                if (_count == 0) for (int j = 0; j < d; j++) _shift[j] = x[j];
                for (int j = 0; j < d; j++) { _centred[j] = x[j] - _shift[j]; _sum[j] += _centred[j]; }
                for (int j = 0; j < d; j++)
                {
                    double cj = _centred[j];
                    if (cj == 0) continue;
                    var row = _outer.AsSpan(j * d, d);
                    for (int k = j; k < d; k++) row[k] += cj * _centred[k];
                }
                _count++;
            }
        }

        /// <summary>μ = shift + s/N, Σ = (S − s sᵀ/N) / (N − 1), with s, S the shifted sums.</summary>
        public FeatureStatistics Result()
        {
            if (_count < 2) throw new InvalidOperationException($"FeatureStatistics: a covariance needs at least 2 feature vectors, got {_count}");
            int d = dimension;
            var mean = new double[d];
            var cov = new double[d * d];
            for (int j = 0; j < d; j++) mean[j] = _shift[j] + _sum[j] / _count;
            for (int j = 0; j < d; j++)
                for (int k = j; k < d; k++)
                    cov[j * d + k] = cov[k * d + j] = (_outer[j * d + k] - _sum[j] * _sum[k] / _count) / (_count - 1);
            return new FeatureStatistics((int)Math.Min(_count, int.MaxValue), mean, cov);
        }
    }
}
