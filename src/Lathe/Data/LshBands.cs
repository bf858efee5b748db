namespace Lathe.Data;

/// <summary>Banding for locality-sensitive hashing of MinHash signatures: b bands of r rows; two documents
/// become candidates when all r rows of some band agree, which happens with probability 1 − (1 − s^r)^b for
/// Jaccard similarity s (Leskovec, Rajaraman &amp; Ullman, Mining of Massive Datasets, §3.4). For a threshold
/// t, (b, r) is chosen to minimise the area of false positives (∫₀ᵗ P(s) ds) plus false negatives
/// (∫ₜ¹ 1 − P(s) ds), equally weighted.</summary>
public readonly record struct LshBands(int Bands, int Rows)
{
    /// <summary>The best (b, r) with b·r ≤ <paramref name="numHashes"/> for <paramref name="threshold"/>.</summary>
    public static LshBands ForThreshold(double threshold, int numHashes)
    {
        if (threshold is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(threshold), "threshold must be in (0, 1)");
        var best = new LshBands(1, numHashes);
        double bestError = double.MaxValue;
        for (int bands = 1; bands <= numHashes; bands++)
            for (int rows = 1; bands * rows <= numHashes; rows++)
            {
                double error = Integrate(0, threshold, bands, rows, false) + Integrate(threshold, 1, bands, rows, true);
                if (error < bestError - 1e-12) { bestError = error; best = new LshBands(bands, rows); }
            }
        return best;
    }

    /// <summary>Probability that two documents of Jaccard similarity <paramref name="s"/> share a band.</summary>
    public double CandidateProbability(double s) => 1 - Math.Pow(1 - Math.Pow(s, Rows), Bands);

    static double Integrate(double from, double to, int bands, int rows, bool falseNegative)
    {
        const int Steps = 200;
        double h = (to - from) / Steps, sum = 0;
        for (int i = 0; i <= Steps; i++)
        {
            double s = from + i * h;
            double p = 1 - Math.Pow(1 - Math.Pow(s, rows), bands);
            double f = falseNegative ? 1 - p : p;
            sum += (i == 0 || i == Steps) ? f / 2 : f;
        }
        return sum * h;
    }
}
