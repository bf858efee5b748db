using Lathe.Tensors;

namespace Lathe.Vision.Diffusion;

/// <summary>Denoising diffusion probabilistic models (Ho et al. 2020): the forward process q(x_t | x_0) that makes
/// training pairs, the ε-prediction loss ‖ε − ε̂(x_t, t)‖² (their L_simple, eq. 14, averaged over elements), and ancestral
/// sampling from p(x_{t−1} | x_t). Timesteps are 0-based: t = 0 is the first noising step (their t = 1).</summary>
public sealed class Ddpm(NoiseSchedule schedule)
{
    public NoiseSchedule Schedule { get; } = schedule;

    /// <summary>q(x_t | x_0) (Ho et al. eq. 4): x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, each of the N items at its own
    /// <paramref name="t"/>; the spans hold N equal-sized items.</summary>
    public void AddNoise(ReadOnlySpan<float> x0, ReadOnlySpan<float> noise, ReadOnlySpan<int> t, Span<float> xt)
    {
        int n = t.Length, size = x0.Length / n;
        for (int b = 0; b < n; b++)
        {
            double aBar = Schedule.AlphaBars[t[b]];
            float a = (float)Math.Sqrt(aBar), s = (float)Math.Sqrt(1 - aBar);
            int o = b * size;
            for (int i = o; i < o + size; i++) xt[i] = a * x0[i] + s * noise[i];
        }
    }

    /// <summary>One ancestral step (Ho et al. Algorithm 2): x_{t−1} = (x_t − β_t/√(1 − ᾱ_t)·ε̂)/√α_t + σ_t·z with σ_t² the
    /// posterior variance β̃_t = β_t·(1 − ᾱ_{t−1})/(1 − ᾱ_t) (eq. 7; no noise at t = 0).</summary>
    public void Step(ReadOnlySpan<float> xt, ReadOnlySpan<float> eps, int t, ReadOnlySpan<float> z, Span<float> xPrev)
    {
        double beta = Schedule.Betas[t], aBar = Schedule.AlphaBars[t], aBarPrev = t > 0 ? Schedule.AlphaBars[t - 1] : 1.0;
        float c0 = (float)(1 / Math.Sqrt(Schedule.Alphas[t])), c1 = (float)(beta / Math.Sqrt(1 - aBar));
        float sigma = t > 0 ? (float)Math.Sqrt(beta * (1 - aBarPrev) / (1 - aBar)) : 0f;
        for (int i = 0; i < xt.Length; i++) xPrev[i] = c0 * (xt[i] - c1 * eps[i]) + sigma * z[i];
    }

    /// <summary>Ancestral sampling over all T steps, from <paramref name="x"/> (N·C·H·W, holding x_T ~ N(0, I) on entry,
    /// x_0 on return); the step noise comes from <paramref name="rng"/>.</summary>
    public void Sample(GuidedNoiseEstimator estimator, Span<float> x, Philox rng)
    {
        var eps = new float[x.Length];
        var z = new float[x.Length];
        for (int t = Schedule.Steps - 1; t >= 0; t--)
        {
            estimator.Estimate(x, t, eps);
            if (t > 0) rng.FillNormal(z);
            else Array.Clear(z);
            Step(x, eps, t, z, x);
        }
    }
}

/// <summary>The ε-prediction training objective (Ho et al. 2020 Algorithm 1, L_simple): for clean latents x_0 draw
/// t ~ U{0, …, T−1} and ε ~ N(0, I) per item, form x_t = √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, and return the mean of (ε̂(x_t, t, y) − ε)²
/// over every element. For a conditional model each label is replaced by the null label with probability
/// <see cref="LabelDropout"/> (classifier-free guidance training, Ho &amp; Salimans 2022 Algorithm 1). The x_t and ε
/// buffers are reused from step to step.</summary>
public sealed class DiffusionObjective(Ddpm ddpm, float labelDropout = ClassifierFreeGuidance.LabelDropout) : IDisposable
{
    Tensor? _xt, _noise;
    int[] _t = [], _labels = [];

    public Ddpm Ddpm { get; } = ddpm;
    public float LabelDropout { get; } = labelDropout;

    /// <summary>The loss on the active tape for a batch of clean samples <paramref name="x0"/> (N, C, H, W) with class
    /// <paramref name="labels"/> (N); t, ε and the label dropout come from <paramref name="rng"/>.</summary>
    public Tensor Loss(INoisePredictor model, Tensor x0, ReadOnlySpan<int> labels, Philox rng)
    {
        int n = x0.Dim(0);
        if (_xt is null || _xt.Length != x0.Length || !_xt.Shape.SequenceEqual(x0.Shape))
        {
            _xt?.Dispose(); _noise?.Dispose();
            _xt = Tensor.Zeros(x0.Shape);
            _noise = Tensor.Zeros(x0.Shape);
            _t = new int[n];
            _labels = new int[n];
        }
        for (int b = 0; b < n; b++)
        {
            _t[b] = rng.NextInt(Ddpm.Schedule.Steps);
            _labels[b] = !model.IsConditional ? model.NullLabel : rng.NextFloat() < LabelDropout ? model.NullLabel : labels[b];
        }
        rng.FillNormal(_noise!.AsSpan());
        Ddpm.AddNoise(x0.AsSpan(), _noise.AsSpan(), _t, _xt.AsSpan());
        var predicted = model.PredictNoise(_xt, _t, _labels);                 // (N,C,H,W)
        var diff = Ops.Sub(predicted, _noise);
        return Ops.MeanAll(Ops.Mul(diff, diff));
    }

    public void Dispose()
    {
        _xt?.Dispose();
        _noise?.Dispose();
    }
}
