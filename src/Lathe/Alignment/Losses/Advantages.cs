namespace Lathe.Alignment;

/// <summary>The plain-float arithmetic of PPO's rollout phase (no tape): generalized advantage estimation, masked
/// whitening, and the per-token KL estimators of the reward penalty. Sums are taken in double.</summary>
public static class Advantages
{
    /// <summary>GAE (Schulman et al. 2016, eq. 16) over (B, T) row-major arrays. In each row the response is the
    /// contiguous run of positions where <paramref name="mask"/> is 1; there δ_t = r_t + γ·V_{t+1} − V_t and
    /// A_t = δ_t + γλ·A_{t+1}, with V and A after the last response token 0 (the episode ends), and
    /// returns = A + V. Positions outside the run get 0 in both outputs.</summary>
    public static void Gae(ReadOnlySpan<float> rewards, ReadOnlySpan<float> values, ReadOnlySpan<float> mask, int B, int T,
        float gamma, float lambda, Span<float> advantages, Span<float> returns)
    {
        const string Op = "Gae";
        if (B < 1 || T < 1) throw new ArgumentException($"{Op}: B = {B} and T = {T} must be ≥ 1.");
        int n = checked(B * T);
        if (!(gamma >= 0f && gamma <= 1f)) throw new ArgumentException($"{Op}: gamma = {gamma} must be in [0, 1].");
        if (!(lambda >= 0f && lambda <= 1f)) throw new ArgumentException($"{Op}: lambda = {lambda} must be in [0, 1].");
        LossInputs.Finite(Op, "rewards", rewards, n);
        LossInputs.Finite(Op, "values", values, n);
        if (mask.Length != n) throw new ArgumentException($"{Op}: mask has {mask.Length} values, expected B·T = {n}.");
        if (advantages.Length != n) throw new ArgumentException($"{Op}: advantages has {advantages.Length} slots, expected B·T = {n}.");
        if (returns.Length != n) throw new ArgumentException($"{Op}: returns has {returns.Length} slots, expected B·T = {n}.");
        for (int b = 0; b < B; b++)
        {
            int row = b * T;
            var (start, end) = ResponseRun(mask.Slice(row, T), b);
            advantages.Slice(row, T).Clear();
            returns.Slice(row, T).Clear();
            double next = 0, gae = 0;
            for (int t = end - 1; t >= start; t--)
            {
                double v = values[row + t];
                double delta = rewards[row + t] + gamma * next - v;
                gae = delta + (double)gamma * lambda * gae;
                advantages[row + t] = (float)gae;
                returns[row + t] = (float)(gae + v);
                next = v;
            }
        }
    }

    /// <summary>The run [start, end) of 1s in a row's mask; every other value must be 0. An all-zero row is an empty run.</summary>
    static (int Start, int End) ResponseRun(ReadOnlySpan<float> mask, int row)
    {
        int start = -1, end = -1;
        for (int t = 0; t < mask.Length; t++)
        {
            float m = mask[t];
            if (m != 0f && m != 1f) throw new ArgumentException($"Gae: mask at row {row}, position {t} is {m}; expected 0 or 1.");
            if (m == 0f) continue;
            if (start < 0) start = t;
            else if (end != t) throw new ArgumentException($"Gae: mask at row {row} has a gap before position {t}; the response must be one contiguous run.");
            end = t + 1;
        }
        return start < 0 ? (0, 0) : (start, end);
    }

    /// <summary>TRL's masked_whiten: (x − μ)·rsqrt(σ² + 1e-8) with μ the masked mean and σ² the unbiased masked
    /// variance (Σ m (x − μ)² / Σ m · Σ m / (Σ m − 1)); with <paramref name="shiftMean"/> false μ is added back.
    /// Positions where <paramref name="mask"/> is 0 are left as they are. An empty mask means every element.</summary>
    public static void Whiten(Span<float> x, ReadOnlySpan<float> mask, bool shiftMean = true)
    {
        const string Op = "Whiten";
        int n = x.Length;
        if (!mask.IsEmpty && mask.Length != n) throw new ArgumentException($"{Op}: mask has {mask.Length} values, expected {n}.");
        for (int i = 0; i < n; i++)
        {
            if (!float.IsFinite(x[i])) throw new ArgumentException($"{Op}: x[{i}] = {x[i]} is not finite.");
            if (!mask.IsEmpty && !(mask[i] >= 0f && float.IsFinite(mask[i]))) throw new ArgumentException($"{Op}: mask[{i}] = {mask[i]} must be finite and ≥ 0.");
        }
        double sum = 0, weight = 0;
        for (int i = 0; i < n; i++) { double m = mask.IsEmpty ? 1 : mask[i]; sum += m * x[i]; weight += m; }
        // The unbiased variance divides by Σ m − 1, so it needs more than one element's worth of mask.
        if (!(weight > 1)) throw new ArgumentException($"{Op}: the mask selects {weight} elements; whitening needs more than 1.");
        double mean = sum / weight, sq = 0;
        for (int i = 0; i < n; i++) { double m = mask.IsEmpty ? 1 : mask[i], d = x[i] - mean; sq += m * d * d; }
        double variance = sq / weight * (weight / (weight - 1));
        double scale = 1.0 / Math.Sqrt(variance + 1e-8);
        for (int i = 0; i < n; i++)
        {
            if (!mask.IsEmpty && mask[i] == 0f) continue;
            double w = (x[i] - mean) * scale;
            x[i] = (float)(shiftMean ? w : w + mean);
        }
    }

    /// <summary>k1 = log π − log π_ref: the unbiased per-token KL estimate of the reward penalty (may be negative).</summary>
    public static float KlK1(float logp, float refLogp) => logp - refLogp;

    /// <summary>k3 = (ρ − 1) − log ρ with ρ = π_ref/π = exp(log π_ref − log π) (Schulman, "Approximating KL
    /// divergence", 2020): unbiased like k1 and never negative.</summary>
    public static float KlK3(float logp, float refLogp)
    {
        double x = (double)refLogp - logp;   // log ρ
        // k3 = eˣ − 1 − x. Near x = 0 that difference cancels (k3 ≈ x²/2 while eˣ − 1 − x loses ~1e-16 absolute), so
        // there the Taylor series is used: its first omitted term, x⁵/120, is < 1e-11 of x²/2 for |x| < 1e-3.
        if (Math.Abs(x) < 1e-3) return (float)(x * x * (0.5 + x * (1.0 / 6 + x / 24)));
        return (float)(Math.Exp(x) - 1.0 - x);
    }

    /// <summary>k1 per token: <paramref name="kl"/>[i] = logp[i] − refLogp[i].</summary>
    public static void KlK1(ReadOnlySpan<float> logp, ReadOnlySpan<float> refLogp, Span<float> kl)
    {
        RequireSameLength("KlK1", logp, refLogp, kl);
        for (int i = 0; i < kl.Length; i++) kl[i] = KlK1(logp[i], refLogp[i]);
    }

    /// <summary>k3 per token.</summary>
    public static void KlK3(ReadOnlySpan<float> logp, ReadOnlySpan<float> refLogp, Span<float> kl)
    {
        RequireSameLength("KlK3", logp, refLogp, kl);
        for (int i = 0; i < kl.Length; i++) kl[i] = KlK3(logp[i], refLogp[i]);
    }

    static void RequireSameLength(string op, ReadOnlySpan<float> logp, ReadOnlySpan<float> refLogp, Span<float> kl)
    {
        if (refLogp.Length != logp.Length || kl.Length != logp.Length)
            throw new ArgumentException($"{op}: logp ({logp.Length}), refLogp ({refLogp.Length}) and kl ({kl.Length}) differ in length.");
    }
}
