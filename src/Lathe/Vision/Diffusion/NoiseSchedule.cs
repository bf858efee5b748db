namespace Lathe.Vision.Diffusion;

/// <summary>The forward-process variances β_t of a diffusion model over T steps (t = 0 … T−1, step t taking x_t to
/// x_{t+1} in the 1-indexed notation of Ho et al. 2020), with α_t = 1 − β_t and ᾱ_t = Π_{s≤t} α_s, all in double.
/// "linear": β from 1e-4 to 0.02 evenly over T = 1000 (Ho et al. 2020 §4). "cosine": ᾱ(t) = f(t)/f(0) with
/// f(t) = cos²(((t/T) + s)/(1 + s)·π/2), s = 0.008, and β_t = min(1 − ᾱ(t+1)/ᾱ(t), 0.999) (Nichol &amp; Dhariwal 2021,
/// eq. 17); ᾱ is then the running product of 1 − β so both kinds agree with their β.</summary>
public sealed class NoiseSchedule
{
    public const string LinearKind = "linear", CosineKind = "cosine";

    /// <summary>"linear" or "cosine".</summary>
    public string Kind { get; }
    /// <summary>T, the number of diffusion steps.</summary>
    public int Steps => Betas.Length;
    public double[] Betas { get; }
    public double[] Alphas { get; }
    /// <summary>ᾱ_t = Π_{s≤t} (1 − β_s).</summary>
    public double[] AlphaBars { get; }

    NoiseSchedule(string kind, double[] betas)
    {
        Kind = kind;
        Betas = betas;
        Alphas = new double[betas.Length];
        AlphaBars = new double[betas.Length];
        double product = 1;
        for (int t = 0; t < betas.Length; t++)
        {
            Alphas[t] = 1 - betas[t];
            product *= Alphas[t];
            AlphaBars[t] = product;
        }
    }

    /// <summary>β evenly spaced from <paramref name="betaStart"/> to <paramref name="betaEnd"/> (torch.linspace's values).</summary>
    public static NoiseSchedule Linear(int steps = 1000, double betaStart = 1e-4, double betaEnd = 0.02)
    {
        CheckSteps(steps);
        var betas = new double[steps];
        for (int t = 0; t < steps; t++) betas[t] = steps == 1 ? betaStart : betaStart + (betaEnd - betaStart) * t / (steps - 1);
        return new NoiseSchedule(LinearKind, betas);
    }

    /// <summary>Nichol &amp; Dhariwal's cosine schedule with offset <paramref name="s"/> and β clipped at
    /// <paramref name="maxBeta"/>.</summary>
    public static NoiseSchedule Cosine(int steps = 1000, double s = 0.008, double maxBeta = 0.999)
    {
        CheckSteps(steps);
        double F(double t) { double c = Math.Cos((t / steps + s) / (1 + s) * Math.PI / 2); return c * c; }
        var betas = new double[steps];
        for (int t = 0; t < steps; t++) betas[t] = Math.Min(1 - F(t + 1) / F(t), maxBeta);
        return new NoiseSchedule(CosineKind, betas);
    }

    /// <summary>The schedule named <paramref name="kind"/> ("linear" or "cosine") over <paramref name="steps"/> steps.</summary>
    public static NoiseSchedule Create(string kind, int steps = 1000) => kind switch
    {
        LinearKind => Linear(steps),
        CosineKind => Cosine(steps),
        _ => throw new ArgumentException($"--schedule '{kind}' is not one of linear, cosine"),
    };

    static void CheckSteps(int steps)
    {
        if (steps <= 0) throw new ArgumentException($"noise schedule: {steps} diffusion steps; need at least 1");
    }
}
