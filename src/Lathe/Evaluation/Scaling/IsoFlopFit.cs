namespace Lathe.Evaluation.Scaling;

/// <summary>One compute budget's IsoFLOP profile: a parabola of loss in x = ln N through its runs, and its vertex.</summary>
/// <param name="Compute">The budget: the geometric mean of its runs' compute.</param>
/// <param name="Runs">The runs of this budget.</param>
/// <param name="OptimalParameters">N at the parabola's minimum.</param>
/// <param name="OptimalTokens">D at that N, from a least-squares line of ln D on ln N through the budget's runs (for
/// C = 6·N·D exactly C/(6·N_opt)).</param>
/// <param name="MinimumLoss">The parabola's value at its minimum.</param>
/// <param name="Coefficients">(c₀, c₁, c₂) of L ≈ c₀ + c₁·x + c₂·x², x = ln N.</param>
/// <param name="Interior">Whether the minimum lies within the sizes the budget ran; an extrapolated minimum is less
/// trustworthy.</param>
public sealed record IsoFlopBudget(double Compute, IReadOnlyList<ScalingRun> Runs, double OptimalParameters, double OptimalTokens,
    double MinimumLoss, double[] Coefficients, bool Interior)
{
    /// <summary>The fitted parabola at <paramref name="parameters"/>.</summary>
    public double Loss(double parameters)
    {
        double x = Math.Log(parameters);
        return Coefficients[0] + Coefficients[1] * x + Coefficients[2] * x * x;
    }
}

/// <summary>A power law y = k·C^exponent fitted by least squares in log–log.</summary>
public sealed record PowerLaw(double Coefficient, double Exponent)
{
    public double At(double compute) => Coefficient * Math.Pow(compute, Exponent);
}

/// <summary>The IsoFLOP fit: per-budget minima and N_opt ∝ C^a, D_opt ∝ C^b.</summary>
/// <param name="Budgets">Budgets with a usable parabola, by increasing compute.</param>
/// <param name="Parameters">N_opt(C) = k·C^a.</param>
/// <param name="Tokens">D_opt(C) = k'·C^b.</param>
/// <param name="Skipped">Budgets left out and why (too few runs, a parabola that opens downwards).</param>
public sealed record IsoFlopResult(IReadOnlyList<IsoFlopBudget> Budgets, PowerLaw Parameters, PowerLaw Tokens, IReadOnlyList<string> Skipped);

/// <summary>Approach 2 of Hoffmann et al. (2022), §3.2: runs of equal compute (an IsoFLOP profile) trace a valley in
/// loss against model size; a parabola in ln N through each profile puts its floor at N_opt(C), and a line through
/// (ln C, ln N_opt) gives the exponent a of N_opt ∝ C^a (likewise b for D).</summary>
public static class IsoFlopFit
{
    /// <summary>Relative spread of compute within which runs share a budget, by default.</summary>
    public const double DefaultBudgetTolerance = 0.1;

    /// <summary>Fits the profiles of <paramref name="runs"/>.</summary>
    /// <param name="budgetTolerance">Runs belong to one budget when their compute is within this relative distance
    /// of the budget's smallest (0.1: within 10%).</param>
    /// <exception cref="ArgumentException">Fewer than two budgets with a usable parabola.</exception>
    public static IsoFlopResult Fit(IReadOnlyList<ScalingRun> runs, double budgetTolerance = DefaultBudgetTolerance)
    {
        var budgets = new List<IsoFlopBudget>();
        var skipped = new List<string>();
        foreach (var group in GroupByBudget(runs, budgetTolerance))
        {
            double compute = Math.Exp(group.Average(r => Math.Log(r.Compute)));
            var budget = FitBudget(compute, group, out string? why);
            if (budget is null) skipped.Add($"C = {compute:E3}: {why}");
            else budgets.Add(budget);
        }
        if (budgets.Count < 2)
            throw new ArgumentException($"the IsoFLOP fit needs at least two compute budgets of three or more runs each with a minimum; found {budgets.Count}" +
                (skipped.Count > 0 ? $" ({string.Join("; ", skipped)})" : "") + ".", nameof(runs));
        var logC = budgets.Select(b => Math.Log(b.Compute)).ToArray();
        return new IsoFlopResult(budgets,
            FitPowerLaw(logC, budgets.Select(b => Math.Log(b.OptimalParameters)).ToArray()),
            FitPowerLaw(logC, budgets.Select(b => Math.Log(b.OptimalTokens)).ToArray()),
            skipped);
    }

    /// <summary>Runs sorted by compute and cut into budgets: a run joins the current budget when its compute is within
    /// <paramref name="tolerance"/> (relative) of the budget's first (smallest) run, else it starts the next.</summary>
    public static List<List<ScalingRun>> GroupByBudget(IReadOnlyList<ScalingRun> runs, double tolerance)
    {
        if (!(tolerance >= 0)) throw new ArgumentException($"budget tolerance {tolerance} must be non-negative.", nameof(tolerance));
        // A stable sort (OrderBy) so runs of equal compute keep the file's order.
        var sorted = runs.OrderBy(r => r.Compute).ToList();
        var groups = new List<List<ScalingRun>>();
        foreach (var run in sorted)
        {
            if (groups.Count > 0 && run.Compute <= groups[^1][0].Compute * (1 + tolerance)) groups[^1].Add(run);
            else groups.Add([run]);
        }
        return groups;
    }

    static IsoFlopBudget? FitBudget(double compute, List<ScalingRun> runs, out string? why)
    {
        var x = runs.Select(r => Math.Log(r.Parameters)).ToArray();
        int distinct = x.Distinct().Count();
        if (distinct < 3) { why = $"{runs.Count} runs of {distinct} distinct sizes; a parabola needs 3"; return null; }
        double[] c = FitParabola(x, runs.Select(r => r.Loss).ToArray());
        if (!(c[2] > 0)) { why = "the parabola opens downwards (no minimum): the sizes do not straddle the valley"; return null; }
        double xOpt = -c[1] / (2 * c[2]);
        var line = FitPowerLaw(x, runs.Select(r => Math.Log(r.Tokens)).ToArray());   // ln D = ln k + q·ln N
        why = null;
        return new IsoFlopBudget(compute, runs, Math.Exp(xOpt), line.Coefficient * Math.Exp(line.Exponent * xOpt),
            c[0] + c[1] * xOpt + c[2] * xOpt * xOpt, c, xOpt >= x.Min() && xOpt <= x.Max());
    }

    /// <summary>Least-squares (c₀, c₁, c₂) of y ≈ c₀ + c₁x + c₂x², solved in x centred on its mean (ln N ≈ 15–25
    /// makes the raw normal equations nearly singular) and mapped back.</summary>
    public static double[] FitParabola(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        int n = x.Count;
        double mean = x.Average();
        // Normal equations in u = x − mean: Σ uᵖ⁺ᵠ · c = Σ uᵖ·y.
        var m = new double[3, 3];
        var r = new double[3];
        for (int i = 0; i < n; i++)
        {
            double u = x[i] - mean;
            double[] powers = [1, u, u * u];
            for (int p = 0; p < 3; p++)
            {
                r[p] += powers[p] * y[i];
                for (int q = 0; q < 3; q++) m[p, q] += powers[p] * powers[q];
            }
        }
        double[] d = Solve3(m, r);
        // c₀ + c₁(x − μ) + c₂(x − μ)² expanded in x.
        return [d[0] - d[1] * mean + d[2] * mean * mean, d[1] - 2 * d[2] * mean, d[2]];
    }

    /// <summary>ln y = ln k + e·ln C by least squares, given the logs; returns (k, e).</summary>
    public static PowerLaw FitPowerLaw(IReadOnlyList<double> logX, IReadOnlyList<double> logY)
    {
        int n = logX.Count;
        double mx = logX.Average(), my = logY.Average(), sxx = 0, sxy = 0;
        for (int i = 0; i < n; i++) { sxx += (logX[i] - mx) * (logX[i] - mx); sxy += (logX[i] - mx) * (logY[i] - my); }
        double slope = sxx > 0 ? sxy / sxx : 0;
        return new PowerLaw(Math.Exp(my - slope * mx), slope);
    }

    // Cramer's rule for the 3×3 normal equations (symmetric positive definite when 3 distinct x exist).
    static double[] Solve3(double[,] m, double[] r)
    {
        double Det(double[,] a) =>
            a[0, 0] * (a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]) - a[0, 1] * (a[1, 0] * a[2, 2] - a[1, 2] * a[2, 0]) + a[0, 2] * (a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]);
        double det = Det(m);
        var result = new double[3];
        for (int k = 0; k < 3; k++)
        {
            var a = (double[,])m.Clone();
            for (int i = 0; i < 3; i++) a[i, k] = r[i];
            result[k] = Det(a) / det;
        }
        return result;
    }
}
