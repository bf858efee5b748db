namespace Lathe.Inference;

/// <summary>The draws of speculative sampling (Leviathan et al. 2023, "Fast Inference from Transformers via Speculative
/// Decoding", Algorithm 1; Chen et al. 2023, "Accelerating LLM Decoding with Speculative Sampling"): a draft token x
/// drawn from the draft's q is kept with probability min(1, p(x)/q(x)); when it is not, the token is drawn from
/// norm(max(0, p − q)). Whatever q is, the token that comes out is distributed exactly as p.</summary>
internal static class SpeculativeSampling
{
    /// <summary>Whether draft token x is kept, given uniform <paramref name="u"/> in [0, 1): u &lt; p(x)/q(x), written
    /// without the division so q(x) = 0 cannot divide (a token the draft cannot draw is kept only if p wants it).</summary>
    public static bool Accept(float px, float qx, float u) => u * qx < px;

    /// <summary>An index drawn from <paramref name="probabilities"/> (summing to about 1) with uniform
    /// <paramref name="u"/>; the last index with mass when rounding leaves u above the running sum.</summary>
    public static int Draw(ReadOnlySpan<float> probabilities, float u)
    {
        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++) sum += probabilities[i];
        double target = u * sum, acc = 0;
        int last = -1;
        for (int i = 0; i < probabilities.Length; i++)
        {
            if (probabilities[i] <= 0) continue;
            acc += probabilities[i];
            last = i;
            if (target < acc) return i;
        }
        return last >= 0 ? last : throw new InvalidOperationException("speculative: a distribution without mass.");
    }

    /// <summary>An index drawn from norm(max(0, p − q)) — q is 0 past its length (a draft with a shorter vocabulary).
    /// When the residual has no mass (p = q to rounding, so the draft token could not really have been rejected) the
    /// draw is from p.</summary>
    public static int DrawResidual(ReadOnlySpan<float> p, ReadOnlySpan<float> q, float u)
    {
        double sum = 0;
        for (int i = 0; i < p.Length; i++) sum += Residual(p, q, i);
        if (!(sum > 0)) return Draw(p, u);
        double target = u * sum, acc = 0;
        int last = -1;
        for (int i = 0; i < p.Length; i++)
        {
            float r = Residual(p, q, i);
            if (r <= 0) continue;
            acc += r;
            last = i;
            if (target < acc) return i;
        }
        return last;
    }

    static float Residual(ReadOnlySpan<float> p, ReadOnlySpan<float> q, int i) => Math.Max(0f, p[i] - (i < q.Length ? q[i] : 0f));
}
