namespace Lathe.Evaluation.Scaling;

/// <summary>The starting points of the fit: every combination of the listed α, β, e, a, b.</summary>
public sealed record ChinchillaGrid(double[] Alpha, double[] Beta, double[] E, double[] A, double[] B)
{
    /// <summary>The paper's grid (Hoffmann et al. 2022, Appendix D.2): α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1},
    /// a, b ∈ {0, 5, …, 25} — 4,500 starts.</summary>
    public static ChinchillaGrid Paper { get; } = new(
        [0, 0.5, 1, 1.5, 2], [0, 0.5, 1, 1.5, 2], [-1, -0.5, 0, 0.5, 1], [0, 5, 10, 15, 20, 25], [0, 5, 10, 15, 20, 25]);

    /// <summary>A coarser grid over the same ranges, 3⁵ = 243 starts, for tests and bootstrap resamples.</summary>
    public static ChinchillaGrid Small { get; } = new([0, 1, 2], [0, 1, 2], [-1, 0, 1], [0, 10, 20], [0, 10, 20]);

    /// <summary>The number of starting points.</summary>
    public int Count => Alpha.Length * Beta.Length * E.Length * A.Length * B.Length;

    /// <summary>Every start as θ = (a, b, e, α, β), in a fixed order (so ties resolve the same way each time).</summary>
    public IEnumerable<double[]> Starts()
    {
        foreach (double alpha in Alpha)
        foreach (double beta in Beta)
        foreach (double e in E)
        foreach (double a in A)
        foreach (double b in B)
            yield return [a, b, e, alpha, beta];
    }
}

/// <summary>Options of <see cref="ChinchillaFit.Fit"/>.</summary>
public sealed record ChinchillaFitOptions
{
    /// <summary>The Huber threshold on log-loss residuals; the paper's 10⁻³.</summary>
    public double Delta { get; init; } = 1e-3;
    /// <summary>Grid of starting points; null for none (then <see cref="ExtraStarts"/> must hold one).</summary>
    public ChinchillaGrid? Grid { get; init; } = ChinchillaGrid.Paper;
    /// <summary>Further starting points θ = (a, b, e, α, β), tried after the grid (e.g. the full-data fit, when
    /// refitting a bootstrap resample).</summary>
    public IReadOnlyList<double[]> ExtraStarts { get; init; } = [];
    public LbfgsOptions Lbfgs { get; init; } = new();
}

/// <summary>The best fit over all starts.</summary>
/// <param name="Law">The fitted L(N, D).</param>
/// <param name="Theta">Its coordinates (a, b, e, α, β).</param>
/// <param name="Objective">The Huber objective at <paramref name="Theta"/>.</param>
/// <param name="Starts">Starting points tried.</param>
/// <param name="Runs">Runs fitted.</param>
public sealed record ChinchillaFitResult(ChinchillaLaw Law, double[] Theta, double Objective, int Starts, int Runs);

/// <summary>Approach 3 of Hoffmann et al. (2022): fit L(N, D) = E + A/N^α + B/D^β by minimising the Huber objective
/// of log-loss (<see cref="ChinchillaObjective"/>) with L-BFGS from every point of a grid, keeping the lowest — the
/// objective is not convex in (a, b, e, α, β), and single starts land in poor local minima.</summary>
public static class ChinchillaFit
{
    /// <summary>Fits <paramref name="runs"/>.</summary>
    /// <exception cref="ArgumentException">Fewer than 5 runs, or no starting point.</exception>
    public static ChinchillaFitResult Fit(IReadOnlyList<ScalingRun> runs, ChinchillaFitOptions? options = null)
    {
        options ??= new ChinchillaFitOptions();
        if (runs.Count < ChinchillaObjective.Dimension)
            throw new ArgumentException($"the parametric fit has 5 parameters and needs at least 5 runs; got {runs.Count}.", nameof(runs));
        var objective = new ChinchillaObjective(runs, options.Delta);
        DifferentiableFunction f = objective.Evaluate;
        double[]? best = null;
        double bestValue = double.PositiveInfinity;
        int starts = 0;
        var all = options.Grid is null ? options.ExtraStarts : options.Grid.Starts().Concat(options.ExtraStarts);
        foreach (double[] start in all)
        {
            starts++;
            LbfgsResult result;
            try { result = Lbfgs.Minimize(f, start, options.Lbfgs); }
            catch (ArgumentException) { continue; }   // not finite at this start: skip it, as a failed start
            // Strictly lower: on a tie the earlier start wins, so the result does not depend on anything but the order.
            if (result.Value < bestValue && AllFinite(result.X)) { bestValue = result.Value; best = result.X; }
        }
        if (starts == 0) throw new ArgumentException("the parametric fit was given no starting point.", nameof(options));
        if (best is null) throw new ArgumentException("the parametric fit found no finite optimum from any start.", nameof(runs));
        return new ChinchillaFitResult(ChinchillaLaw.FromTheta(best), best, bestValue, starts, runs.Count);
    }

    static bool AllFinite(double[] x) => x.All(double.IsFinite);
}
