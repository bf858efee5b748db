using Lathe.Tensors;

namespace Lathe.Vision.Diffusion;

/// <summary>Denoising diffusion implicit models (Song et al. 2021): sampling along a sub-sequence τ of the T training
/// timesteps with the same ε-model. One step from t to the previous timestep t′ (eq. 12):
/// x̂_0 = (x_t − √(1 − ᾱ_t)·ε̂)/√ᾱ_t,  σ = η·√((1 − ᾱ_t′)/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_t′),
/// x_t′ = √ᾱ_t′·x̂_0 + √(1 − ᾱ_t′ − σ²)·ε̂ + σ·z, with ᾱ_t′ = 1 after the last step. η = 0 is deterministic (DDIM
/// proper); η = 1 has DDPM's posterior variance.</summary>
public sealed class Ddim(NoiseSchedule schedule)
{
    public NoiseSchedule Schedule { get; } = schedule;

    /// <summary>τ: <paramref name="samplingSteps"/> timesteps evenly spaced over [0, T), in the order they are visited
    /// (descending): τ_i = ⌊i·T/S⌋ for i = S−1 … 0 (Song et al. §4.2's "linear" sub-sequence).</summary>
    public int[] Timesteps(int samplingSteps)
    {
        int T = Schedule.Steps;
        if (samplingSteps < 1 || samplingSteps > T)
            throw new ArgumentException($"--sampling-steps {samplingSteps} must be in 1-{T}");
        var tau = new int[samplingSteps];
        for (int i = 0; i < samplingSteps; i++) tau[samplingSteps - 1 - i] = (int)((long)i * T / samplingSteps);
        return tau;
    }

    /// <summary>One DDIM step from timestep <paramref name="t"/> to <paramref name="tPrev"/> (−1: to x_0).</summary>
    public void Step(ReadOnlySpan<float> xt, ReadOnlySpan<float> eps, int t, int tPrev, float eta, ReadOnlySpan<float> z, Span<float> xPrev)
    {
        double aBar = Schedule.AlphaBars[t], aBarPrev = tPrev >= 0 ? Schedule.AlphaBars[tPrev] : 1.0;
        double sigma = eta * Math.Sqrt((1 - aBarPrev) / (1 - aBar)) * Math.Sqrt(1 - aBar / aBarPrev);
        double dirScale = Math.Sqrt(Math.Max(1 - aBarPrev - sigma * sigma, 0));
        float sqrtA = (float)Math.Sqrt(aBar), sqrtOneMinusA = (float)Math.Sqrt(1 - aBar);
        float sqrtAPrev = (float)Math.Sqrt(aBarPrev), dir = (float)dirScale, s = (float)sigma;
        for (int i = 0; i < xt.Length; i++)
        {
            float x0 = (xt[i] - sqrtOneMinusA * eps[i]) / sqrtA;
            xPrev[i] = sqrtAPrev * x0 + dir * eps[i] + (s != 0 ? s * z[i] : 0f);
        }
    }

    /// <summary>Samples from <paramref name="x"/> (holding x_T ~ N(0, I), N·C·H·W) to x_0 in place over
    /// <paramref name="samplingSteps"/> steps; for η &gt; 0 the step noise comes from <paramref name="rng"/>.</summary>
    public void Sample(GuidedNoiseEstimator estimator, Span<float> x, int samplingSteps, float eta, Philox rng)
    {
        if (!(eta >= 0) || float.IsInfinity(eta)) throw new ArgumentException($"--eta {eta} must be a number ≥ 0");
        int[] tau = Timesteps(samplingSteps);
        var eps = new float[x.Length];
        var z = new float[x.Length];
        for (int i = 0; i < tau.Length; i++)
        {
            int t = tau[i], tPrev = i + 1 < tau.Length ? tau[i + 1] : -1;
            estimator.Estimate(x, t, eps);
            if (eta > 0) rng.FillNormal(z);
            Step(x, eps, t, tPrev, eta, z, x);
        }
    }
}
