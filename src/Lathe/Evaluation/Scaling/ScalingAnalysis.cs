namespace Lathe.Evaluation.Scaling;

/// <summary>Options of <see cref="ScalingAnalysis.Run"/>.</summary>
public sealed record ScalingAnalysisOptions
{
    /// <summary>The parametric fit (grid, Huber δ, L-BFGS).</summary>
    public ChinchillaFitOptions Fit { get; init; } = new();
    /// <summary>Bootstrap resamples; 0 skips the intervals.</summary>
    public int BootstrapResamples { get; init; }
    public int Seed { get; init; } = 1;
    public double Confidence { get; init; } = 0.95;
    /// <summary>As for <see cref="IsoFlopFit.Fit"/>.</summary>
    public double BudgetTolerance { get; init; } = IsoFlopFit.DefaultBudgetTolerance;
}

/// <summary>A held-out run beside the parametric fit's prediction of it.</summary>
/// <param name="ErrorPercent">(predicted − measured) / measured × 100.</param>
/// <param name="ComputeRatio">The run's compute over the largest fitted run's: the extrapolation the prediction makes
/// (the issue asks for ≥ 4).</param>
/// <param name="Interval">The bootstrap interval of the prediction, when intervals were computed.</param>
public sealed record HeldOutPrediction(ScalingRun Run, double Predicted, double ErrorPercent, double ComputeRatio, ConfidenceInterval? Interval);

/// <summary>Everything the scaling report shows: both fits, their intervals, and the held-out predictions.</summary>
/// <param name="IsoFlop">Null when the runs hold fewer than two usable IsoFLOP budgets; <paramref name="IsoFlopError"/>
/// then says why.</param>
public sealed record ScalingAnalysis(
    IReadOnlyList<ScalingRun> Runs, IReadOnlyList<ScalingRun> HeldOut, ScalingAnalysisOptions Options,
    ChinchillaFitResult Parametric, ChinchillaIntervals? ParametricIntervals,
    IsoFlopResult? IsoFlop, string? IsoFlopError, IsoFlopIntervals? IsoFlopIntervals,
    IReadOnlyList<HeldOutPrediction> Predictions)
{
    /// <summary>Fits <paramref name="runs"/> both ways, bootstraps when asked, and predicts <paramref name="heldOut"/>.</summary>
    /// <exception cref="ArgumentException">Too few runs for the parametric fit, or a bad option.</exception>
    public static ScalingAnalysis Run(IReadOnlyList<ScalingRun> runs, IReadOnlyList<ScalingRun>? heldOut = null, ScalingAnalysisOptions? options = null)
    {
        options ??= new ScalingAnalysisOptions();
        heldOut ??= [];
        if (options.BootstrapResamples < 0) throw new ArgumentException($"bootstrap resamples {options.BootstrapResamples} must not be negative.", nameof(options));
        var parametric = ChinchillaFit.Fit(runs, options.Fit);
        IsoFlopResult? iso = null;
        string? isoError = null;
        try { iso = IsoFlopFit.Fit(runs, options.BudgetTolerance); }
        catch (ArgumentException e) { isoError = e.Message; }

        ChinchillaIntervals? parametricIntervals = null;
        IsoFlopIntervals? isoIntervals = null;
        if (options.BootstrapResamples > 0)
        {
            var bootstrap = new BootstrapOptions
            {
                Resamples = options.BootstrapResamples, Seed = options.Seed, Confidence = options.Confidence, BudgetTolerance = options.BudgetTolerance,
            };
            parametricIntervals = ScalingBootstrap.Chinchilla(runs, parametric, bootstrap, heldOut, options.Fit.Delta);
            if (iso is not null) isoIntervals = ScalingBootstrap.IsoFlop(runs, bootstrap);
        }
        double largest = runs.Max(r => r.Compute);
        var predictions = heldOut.Select((h, i) =>
        {
            double predicted = parametric.Law.Predict(h.Parameters, h.Tokens);
            return new HeldOutPrediction(h, predicted, (predicted - h.Loss) / h.Loss * 100, h.Compute / largest, parametricIntervals?.Predictions[i]);
        }).ToList();
        return new ScalingAnalysis(runs, heldOut, options, parametric, parametricIntervals, iso, isoError, isoIntervals, predictions);
    }
}
