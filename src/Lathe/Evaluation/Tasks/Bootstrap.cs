namespace Lathe.Evaluation.Tasks;

/// <summary>Bootstrap standard errors: the documents are resampled with replacement, the metric recomputed on each
/// resample, and the standard deviation of those values reported. Seeded, so the same scores give the same errors.</summary>
public static class Bootstrap
{
    /// <summary>The standard error of <paramref name="aggregate"/> over <paramref name="n"/> documents; the aggregate
    /// is given the resampled document indices.</summary>
    public static double StandardError(int n, Func<int[], double> aggregate, int iterations, int seed)
    {
        if (n < 2 || iterations < 2) return double.NaN;
        var rng = new Random(seed);
        var sample = new int[n];
        double sum = 0, sumSquares = 0;
        for (int i = 0; i < iterations; i++)
        {
            for (int j = 0; j < n; j++) sample[j] = rng.Next(n);
            double v = aggregate(sample);
            sum += v;
            sumSquares += v * v;
        }
        double mean = sum / iterations;
        return Math.Sqrt(Math.Max(0, (sumSquares - iterations * mean * mean) / (iterations - 1)));
    }

    /// <summary>Mean of <paramref name="values"/> at <paramref name="indices"/>.</summary>
    public static double Mean(IReadOnlyList<double> values, int[] indices)
    {
        double s = 0;
        foreach (int i in indices) s += values[i];
        return s / indices.Length;
    }
}
