namespace Lathe.Evaluation.Scaling;

/// <summary>A percentile confidence interval.</summary>
public sealed record ConfidenceInterval(double Low, double High)
{
    public bool Contains(double x) => x >= Low && x <= High;
}

/// <summary>Options of the bootstrap.</summary>
public sealed record BootstrapOptions
{
    /// <summary>Resamples; each refits, so this is the cost multiplier (1,000 is customary for percentile intervals).</summary>
    public int Resamples { get; init; } = 1000;
    public int Seed { get; init; } = 1;
    /// <summary>Central coverage of the intervals (0.95: the 2.5th to 97.5th percentile).</summary>
    public double Confidence { get; init; } = 0.95;
    /// <summary>Starting grid of each parametric refit; null (the default) starts each refit only from the full data's
    /// optimum. A resample moves the optimum a little, and the full grid per resample would cost
    /// Resamples × 4,500 L-BFGS runs.</summary>
    public ChinchillaGrid? Grid { get; init; }
    /// <summary>As for <see cref="IsoFlopFit.Fit"/>.</summary>
    public double BudgetTolerance { get; init; } = IsoFlopFit.DefaultBudgetTolerance;
}

/// <summary>Intervals for the parametric fit.</summary>
/// <param name="Predictions">For each held-out run given, the interval of its predicted loss.</param>
/// <param name="Failed">Resamples whose refit failed (left out of the intervals).</param>
public sealed record ChinchillaIntervals(ConfidenceInterval E, ConfidenceInterval A, ConfidenceInterval B, ConfidenceInterval Alpha,
    ConfidenceInterval Beta, ConfidenceInterval ParametersExponent, ConfidenceInterval TokensExponent,
    IReadOnlyList<ConfidenceInterval> Predictions, int Resamples, int Failed);

/// <summary>Intervals for the IsoFLOP exponents.</summary>
public sealed record IsoFlopIntervals(ConfidenceInterval ParametersExponent, ConfidenceInterval TokensExponent, int Resamples, int Failed);

/// <summary>Nonparametric bootstrap (Efron &amp; Tibshirani 1993, ch. 13): resample the runs with replacement, refit, and
/// read each quantity's interval from the percentiles of its refitted values. Seeded: the same seed gives the same
/// intervals bit for bit.</summary>
public static class ScalingBootstrap
{
    /// <summary>Intervals for the parametric fit of <paramref name="runs"/>, whose full-data fit is <paramref name="full"/>;
    /// also for the predicted loss of each of <paramref name="heldOut"/>.</summary>
    public static ChinchillaIntervals Chinchilla(IReadOnlyList<ScalingRun> runs, ChinchillaFitResult full, BootstrapOptions options,
        IReadOnlyList<ScalingRun>? heldOut = null, double delta = 1e-3)
    {
        Validate(options);
        heldOut ??= [];
        var rng = new Random(options.Seed);
        var fitOptions = new ChinchillaFitOptions { Delta = delta, Grid = options.Grid, ExtraStarts = [full.Theta] };
        var samples = new List<ChinchillaLaw>();
        int failed = 0;
        for (int r = 0; r < options.Resamples; r++)
        {
            var resample = new ScalingRun[runs.Count];
            for (int i = 0; i < runs.Count; i++) resample[i] = runs[rng.Next(runs.Count)];
            try { samples.Add(ChinchillaFit.Fit(resample, fitOptions).Law); }
            catch (ArgumentException) { failed++; }
        }
        if (samples.Count == 0) throw new ArgumentException("every bootstrap refit failed.", nameof(runs));
        ConfidenceInterval Of(Func<ChinchillaLaw, double> f) => Percentile(samples.Select(f), options.Confidence);
        return new ChinchillaIntervals(Of(l => l.E), Of(l => l.A), Of(l => l.B), Of(l => l.Alpha), Of(l => l.Beta),
            Of(l => l.ParametersExponent), Of(l => l.TokensExponent),
            heldOut.Select(h => Of(l => l.Predict(h.Parameters, h.Tokens))).ToList(), options.Resamples, failed);
    }

    /// <summary>Intervals for the IsoFLOP exponents a and b. Runs are resampled within each compute budget (a stratified
    /// bootstrap): resampling the pooled runs would often leave a budget with fewer than three sizes and no parabola,
    /// which says nothing about the exponents' uncertainty.</summary>
    public static IsoFlopIntervals IsoFlop(IReadOnlyList<ScalingRun> runs, BootstrapOptions options)
    {
        Validate(options);
        var groups = IsoFlopFit.GroupByBudget(runs, options.BudgetTolerance);
        var rng = new Random(options.Seed);
        var a = new List<double>();
        var b = new List<double>();
        int failed = 0;
        for (int r = 0; r < options.Resamples; r++)
        {
            var resample = new List<ScalingRun>(runs.Count);
            foreach (var group in groups)
                for (int i = 0; i < group.Count; i++) resample.Add(group[rng.Next(group.Count)]);
            try
            {
                var fit = IsoFlopFit.Fit(resample, options.BudgetTolerance);
                a.Add(fit.Parameters.Exponent);
                b.Add(fit.Tokens.Exponent);
            }
            catch (ArgumentException) { failed++; }
        }
        if (a.Count == 0) throw new ArgumentException("every IsoFLOP bootstrap refit failed.", nameof(runs));
        return new IsoFlopIntervals(Percentile(a, options.Confidence), Percentile(b, options.Confidence), options.Resamples, failed);
    }

    /// <summary>The central <paramref name="confidence"/> interval of <paramref name="values"/>: the (1−c)/2 and
    /// (1+c)/2 quantiles, linearly interpolated between order statistics (Hyndman &amp; Fan type 7, numpy's default).</summary>
    public static ConfidenceInterval Percentile(IEnumerable<double> values, double confidence)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return new ConfidenceInterval(Quantile(sorted, (1 - confidence) / 2), Quantile(sorted, (1 + confidence) / 2));
    }

    /// <summary>The q-quantile of sorted values, type 7.</summary>
    public static double Quantile(double[] sorted, double q)
    {
        if (sorted.Length == 0) throw new ArgumentException("no values.", nameof(sorted));
        double h = (sorted.Length - 1) * q;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    static void Validate(BootstrapOptions options)
    {
        if (options.Resamples < 1) throw new ArgumentException($"bootstrap resamples {options.Resamples} must be at least 1.", nameof(options));
        if (!(options.Confidence > 0 && options.Confidence < 1)) throw new ArgumentException($"bootstrap confidence {options.Confidence} must be in (0, 1).", nameof(options));
    }
}
