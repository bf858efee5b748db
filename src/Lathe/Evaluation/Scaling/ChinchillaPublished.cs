namespace Lathe.Evaluation.Scaling;

/// <summary>Values published in Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models",
/// arXiv:2203.15556, for comparison with our fits. They were fitted to ~400 runs of 70M–16B parameters on MassiveText,
/// so only the exponents, not E, A and B, are expected to carry over to another corpus and tokenizer.</summary>
public static class ChinchillaPublished
{
    /// <summary>Approach 3's fitted law, §3.3 Eq. 10: E = 1.69, A = 406.4, B = 410.7, α = 0.34, β = 0.28.</summary>
    public static readonly ChinchillaLaw Approach3 = new(E: 1.69, A: 406.4, B: 410.7, Alpha: 0.34, Beta: 0.28);

    /// <summary>Table 2: N_opt ∝ C^a, D_opt ∝ C^b. Approach 1 (fixed model sizes, varied tokens): a = 0.50, b = 0.50.</summary>
    public const double Approach1A = 0.50, Approach1B = 0.50;

    /// <summary>Table 2, Approach 2 (IsoFLOP profiles): a = 0.49, b = 0.51.</summary>
    public const double Approach2A = 0.49, Approach2B = 0.51;

    /// <summary>Table 2, Approach 3 (parametric fit): a = 0.46, b = 0.54. (β/(α+β) from the rounded α, β of Eq. 10
    /// gives 0.45; the table was computed from the unrounded fit.)</summary>
    public const double Approach3A = 0.46, Approach3B = 0.54;
}
