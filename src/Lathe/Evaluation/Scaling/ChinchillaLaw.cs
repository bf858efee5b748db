namespace Lathe.Evaluation.Scaling;

/// <summary>The parametric loss L(N, D) = E + A/N^α + B/D^β of Hoffmann et al. (2022), Eq. 2, and the compute-optimal
/// allocation it implies for C = 6·N·D (their Eq. 4 and Appendix D.2).</summary>
/// <param name="E">The irreducible loss (entropy of natural text) in nats.</param>
/// <param name="A">Scale of the finite-model term.</param>
/// <param name="B">Scale of the finite-data term.</param>
/// <param name="Alpha">Exponent of N.</param>
/// <param name="Beta">Exponent of D.</param>
public sealed record ChinchillaLaw(double E, double A, double B, double Alpha, double Beta)
{
    /// <summary>Predicted final loss of a model of <paramref name="parameters"/> trained on <paramref name="tokens"/>.</summary>
    public double Predict(double parameters, double tokens) => E + A / Math.Pow(parameters, Alpha) + B / Math.Pow(tokens, Beta);

    /// <summary>a = β/(α+β): N_opt ∝ C^a.</summary>
    public double ParametersExponent => Beta / (Alpha + Beta);

    /// <summary>b = α/(α+β): D_opt ∝ C^b.</summary>
    public double TokensExponent => Alpha / (Alpha + Beta);

    /// <summary>G = (αA/(βB))^(1/(α+β)).</summary>
    public double G => Math.Pow(Alpha * A / (Beta * B), 1 / (Alpha + Beta));

    /// <summary>N_opt(C) = G·(C/6)^(β/(α+β)): the size minimising L on the budget C = 6·N·D. Meaningful only when α, β &gt; 0.</summary>
    public double OptimalParameters(double compute) => G * Math.Pow(compute / 6, ParametersExponent);

    /// <summary>D_opt(C) = G⁻¹·(C/6)^(α/(α+β)).</summary>
    public double OptimalTokens(double compute) => Math.Pow(compute / 6, TokensExponent) / G;

    /// <summary>The loss on the compute-optimal frontier, L(N_opt(C), D_opt(C)).</summary>
    public double FrontierLoss(double compute) => Predict(OptimalParameters(compute), OptimalTokens(compute));

    /// <summary>θ = (log A, log B, log E, α, β), the coordinates the fit works in.</summary>
    public double[] ToTheta() => [Math.Log(A), Math.Log(B), Math.Log(E), Alpha, Beta];

    /// <summary>The law at θ = (a, b, e, α, β): A = eᵃ, B = eᵇ, E = eᵉ.</summary>
    public static ChinchillaLaw FromTheta(ReadOnlySpan<double> theta) =>
        new(Math.Exp(theta[ChinchillaObjective.IndexE]), Math.Exp(theta[ChinchillaObjective.IndexA]), Math.Exp(theta[ChinchillaObjective.IndexB]),
            theta[ChinchillaObjective.IndexAlpha], theta[ChinchillaObjective.IndexBeta]);
}
