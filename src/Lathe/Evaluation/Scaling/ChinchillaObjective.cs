namespace Lathe.Evaluation.Scaling;

/// <summary>The objective of Hoffmann et al. (2022), Approach 3 (§3.3, Eq. 2 and Appendix D.2): over runs i,
/// Σᵢ Huber_δ(LSE(a − α·log Nᵢ, b − β·log Dᵢ, e) − log Lᵢ), where LSE is log-sum-exp, so that
/// exp(LSE(…)) = eᵃ/N^α + eᵇ/D^β + eᵉ = A/N^α + B/D^β + E. Fitting log-loss under a Huber loss (δ = 10⁻³ in the
/// paper) makes the fit robust to outlying runs. θ is ordered (a, b, e, α, β).</summary>
public sealed class ChinchillaObjective
{
    /// <summary>The number of parameters in θ.</summary>
    public const int Dimension = 5;
    public const int IndexA = 0, IndexB = 1, IndexE = 2, IndexAlpha = 3, IndexBeta = 4;

    readonly double[] logN, logD, logL;
    readonly double delta;

    /// <summary>The objective over <paramref name="runs"/> with Huber threshold <paramref name="delta"/>.</summary>
    public ChinchillaObjective(IReadOnlyList<ScalingRun> runs, double delta = 1e-3)
    {
        if (!(delta > 0)) throw new ArgumentException($"Huber delta {delta} must be positive.", nameof(delta));
        this.delta = delta;
        logN = new double[runs.Count]; logD = new double[runs.Count]; logL = new double[runs.Count];
        for (int i = 0; i < runs.Count; i++)
        {
            logN[i] = Math.Log(runs[i].Parameters);
            logD[i] = Math.Log(runs[i].Tokens);
            logL[i] = Math.Log(runs[i].Loss);
        }
    }

    /// <summary>Huber_δ(r) = r²/2 for |r| ≤ δ, δ·(|r| − δ/2) beyond: quadratic near 0, linear in the tails, with a
    /// continuous first derivative.</summary>
    public static double Huber(double r, double delta)
    {
        double abs = Math.Abs(r);
        return abs <= delta ? 0.5 * r * r : delta * (abs - 0.5 * delta);
    }

    /// <summary>dHuber_δ/dr: r clipped to [−δ, δ].</summary>
    public static double HuberDerivative(double r, double delta) => Math.Clamp(r, -delta, delta);

    /// <summary>The objective at θ = (a, b, e, α, β); writes its analytic gradient into <paramref name="gradient"/>.</summary>
    public double Evaluate(ReadOnlySpan<double> theta, Span<double> gradient)
    {
        double a = theta[IndexA], b = theta[IndexB], e = theta[IndexE], alpha = theta[IndexAlpha], beta = theta[IndexBeta];
        double sum = 0, ga = 0, gb = 0, ge = 0, gAlpha = 0, gBeta = 0;
        for (int i = 0; i < logN.Length; i++)
        {
            double u = a - alpha * logN[i], v = b - beta * logD[i];
            // LSE with its largest term factored out, so large exponents do not overflow.
            double max = Math.Max(u, Math.Max(v, e));
            double pu = Math.Exp(u - max), pv = Math.Exp(v - max), pe = Math.Exp(e - max);
            double z = pu + pv + pe;
            double r = max + Math.Log(z) - logL[i];
            sum += Huber(r, delta);
            // ∂LSE/∂(u, v, e) is the softmax (pu, pv, pe)/z; ∂u/∂α = −log N, ∂v/∂β = −log D.
            double h = HuberDerivative(r, delta) / z;
            ga += h * pu;
            gb += h * pv;
            ge += h * pe;
            gAlpha -= h * pu * logN[i];
            gBeta -= h * pv * logD[i];
        }
        gradient[IndexA] = ga; gradient[IndexB] = gb; gradient[IndexE] = ge; gradient[IndexAlpha] = gAlpha; gradient[IndexBeta] = gBeta;
        return sum;
    }

    /// <summary>The objective at θ without the gradient.</summary>
    public double Value(ReadOnlySpan<double> theta) => Evaluate(theta, stackalloc double[Dimension]);
}
