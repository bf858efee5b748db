namespace Lathe.Evaluation.Scaling;

/// <summary>An objective for <see cref="Lbfgs"/>: returns f(x) and writes ∇f(x) into <c>gradient</c>.</summary>
public delegate double DifferentiableFunction(ReadOnlySpan<double> x, Span<double> gradient);

/// <summary>Stopping rules and memory of <see cref="Lbfgs"/>.</summary>
public sealed record LbfgsOptions
{
    /// <summary>Correction pairs (s, y) kept; 5–20 is the usual range (Nocedal &amp; Wright 2006, §7.2).</summary>
    public int Memory { get; init; } = 10;
    public int MaxIterations { get; init; } = 1000;
    /// <summary>Converged when max |∂f/∂xᵢ| falls to this.</summary>
    public double GradientTolerance { get; init; } = 1e-12;
    /// <summary>Stalled when <see cref="StallIterations"/> iterations in a row each lower f by no more than this
    /// fraction of |f|. No floor of 1 as some libraries use: a fit to noise-free data drives f towards 0 and must keep
    /// going there. One such iteration is not enough: near a minimum of an ill-conditioned function f stops changing
    /// at rounding level while x is still 1e-8 away, and the gradient still leads it there.</summary>
    public double ValueTolerance { get; init; } = 1e-15;
    public int StallIterations { get; init; } = 10;
}

/// <summary>Where <see cref="Lbfgs.Minimize"/> stopped.</summary>
/// <param name="Converged">True when a tolerance was met; false when the iteration limit was reached or the line
/// search could not find a lower value along a descent direction.</param>
public sealed record LbfgsResult(double[] X, double Value, double GradientNorm, int Iterations, int Evaluations, bool Converged, string Reason);

/// <summary>Limited-memory BFGS (Nocedal &amp; Wright 2006, Algorithm 7.4/7.5): the two-loop recursion turns the last
/// m steps and gradient changes into a quasi-Newton direction, and a line search satisfying the strong Wolfe
/// conditions (Algorithms 3.5/3.6) chooses the step, which keeps sᵀy &gt; 0 so the implicit Hessian stays positive
/// definite. Deterministic: no randomness, one thread.</summary>
public static class Lbfgs
{
    const double SufficientDecrease = 1e-4;   // c₁ (Armijo)
    const double Curvature = 0.9;             // c₂: the usual value for quasi-Newton methods (N&W §3.1)
    const int MaxLineSearchSteps = 50;
    const double RoundingSlack = 1e-12;      // relative change in f below which values are compared by slope instead

    /// <summary>Minimises <paramref name="f"/> from <paramref name="start"/>.</summary>
    /// <exception cref="ArgumentException">The start is empty, or f or its gradient is not finite there.</exception>
    public static LbfgsResult Minimize(DifferentiableFunction f, ReadOnlySpan<double> start, LbfgsOptions? options = null)
    {
        options ??= new LbfgsOptions();
        int n = start.Length;
        if (n == 0) throw new ArgumentException("L-BFGS: the start point is empty.", nameof(start));
        if (options.Memory < 1) throw new ArgumentException($"L-BFGS: memory {options.Memory} must be at least 1.", nameof(options));
        var search = new LineSearch(f, n);
        double[] x = start.ToArray(), g = new double[n];
        double fx = f(x, g);
        search.Evaluations = 1;
        if (!double.IsFinite(fx) || !AllFinite(g)) throw new ArgumentException("L-BFGS: the objective or its gradient is not finite at the start point.", nameof(start));

        int m = options.Memory;
        var s = new double[m][]; var y = new double[m][]; var rho = new double[m]; var alphaK = new double[m];
        for (int i = 0; i < m; i++) { s[i] = new double[n]; y[i] = new double[n]; }
        int stored = 0, newest = -1;
        var d = new double[n];
        int iteration = 0, stalled = 0;
        double gNorm = MaxAbs(g);
        if (gNorm <= options.GradientTolerance) return new(x, fx, gNorm, 0, search.Evaluations, true, "gradient");

        while (iteration < options.MaxIterations)
        {
            iteration++;
            Direction(g, s, y, rho, alphaK, stored, newest, m, d);
            double slope = Dot(g, d);
            if (!(slope < 0))
            {
                // Not a descent direction (rounding in the memory): forget it and go downhill.
                stored = 0;
                for (int i = 0; i < n; i++) d[i] = -g[i];
                slope = Dot(g, d);
            }
            // The first step (and one after a reset) has no curvature scale; a unit step along −g can overshoot by
            // orders of magnitude, so it starts at a length of 1 in x.
            double t0 = stored == 0 ? Math.Min(1, 1 / Math.Sqrt(-slope)) : 1;
            if (!search.Run(x, fx, d, slope, t0))
            {
                if (stored == 0) return new(x, fx, gNorm, iteration, search.Evaluations, false, "line search failed");
                stored = 0;   // retry once from steepest descent before giving up
                continue;
            }
            double fNew = search.Value;
            newest = (newest + 1) % m;
            double sy = 0, yy = 0;
            for (int i = 0; i < n; i++)
            {
                s[newest][i] = search.X[i] - x[i];
                y[newest][i] = search.Gradient[i] - g[i];
                sy += s[newest][i] * y[newest][i];
                yy += y[newest][i] * y[newest][i];
            }
            if (sy > 0 && yy > 0) { rho[newest] = 1 / sy; stored = Math.Min(stored + 1, m); }
            else newest = (newest - 1 + m) % m;   // curvature pair unusable: drop it
            double decrease = fx - fNew;
            search.X.CopyTo(x, 0);
            search.Gradient.CopyTo(g, 0);
            fx = fNew;
            gNorm = MaxAbs(g);
            if (gNorm <= options.GradientTolerance) return new(x, fx, gNorm, iteration, search.Evaluations, true, "gradient");
            stalled = decrease <= options.ValueTolerance * Math.Abs(fx) ? stalled + 1 : 0;
            if (stalled >= options.StallIterations) return new(x, fx, gNorm, iteration, search.Evaluations, true, "value");
        }
        return new(x, fx, gNorm, iteration, search.Evaluations, false, "iteration limit");
    }

    // Two-loop recursion (N&W Algorithm 7.4): d = −H·g with H₀ = (sᵀy / yᵀy)·I from the newest pair.
    static void Direction(double[] g, double[][] s, double[][] y, double[] rho, double[] alpha, int stored, int newest, int m, double[] d)
    {
        int n = g.Length;
        for (int i = 0; i < n; i++) d[i] = -g[i];
        if (stored == 0) return;
        for (int k = 0, j = newest; k < stored; k++, j = (j - 1 + m) % m)
        {
            alpha[j] = rho[j] * Dot(s[j], d);
            for (int i = 0; i < n; i++) d[i] -= alpha[j] * y[j][i];
        }
        double gamma = 1 / (rho[newest] * Dot(y[newest], y[newest]));
        for (int i = 0; i < n; i++) d[i] *= gamma;
        int oldest = (newest - stored + 1 + m) % m;
        for (int k = 0, j = oldest; k < stored; k++, j = (j + 1) % m)
        {
            double beta = rho[j] * Dot(y[j], d);
            for (int i = 0; i < n; i++) d[i] += (alpha[j] - beta) * s[j][i];
        }
    }

    // A step length satisfying the strong Wolfe conditions: bracket (N&W Algorithm 3.5), then zoom (Algorithm 3.6)
    // with a safeguarded quadratic interpolation. On success X, Value and Gradient hold the accepted point.
    sealed class LineSearch(DifferentiableFunction f, int n)
    {
        public double[] X = new double[n], Gradient = new double[n];
        public double Value;
        public int Evaluations;
        readonly double[] trialX = new double[n], trialG = new double[n];

        double phi0, slope0;
        double[] x0 = [], d = [];

        (double Phi, double Slope) Evaluate(double t)
        {
            for (int i = 0; i < trialX.Length; i++) trialX[i] = x0[i] + t * d[i];
            double phi = f(trialX, trialG);
            Evaluations++;
            if (!double.IsFinite(phi) || !AllFinite(trialG)) return (double.PositiveInfinity, double.NaN);
            return (phi, Dot(trialG, d));
        }

        void Accept(double phi) { Value = phi; trialX.CopyTo(X, 0); trialG.CopyTo(Gradient, 0); }

        // Sufficient decrease: Armijo's φ(t) ≤ φ(0) + c₁·t·φ'(0), or — once φ has stopped changing at rounding level,
        // where a comparison of values is noise — its derivative form φ'(t) ≤ (2c₁ − 1)·φ'(0) with φ(t) within rounding
        // of φ(0), the "approximate Wolfe" condition of Hager &amp; Zhang (2005), exact for a quadratic.
        bool Decreases(double t, double phi, double dphi) =>
            phi <= phi0 + SufficientDecrease * t * slope0
            || (Close(phi, phi0) && dphi <= (2 * SufficientDecrease - 1) * slope0);

        static bool Close(double a, double b) => Math.Abs(a - b) <= RoundingSlack * Math.Max(Math.Abs(a), Math.Abs(b));

        // Higher than φ at another point by more than rounding (then the minimiser lies between them).
        static bool Higher(double phi, double than) => phi >= than && !Close(phi, than);

        public bool Run(double[] x, double fx, double[] direction, double slope, double t)
        {
            x0 = x; d = direction; phi0 = fx; slope0 = slope;
            double tPrev = 0, phiPrev = fx, slopePrev = slope;
            for (int step = 0; step < MaxLineSearchSteps; step++)
            {
                var (phi, dphi) = Evaluate(t);
                if (!Decreases(t, phi, dphi) || (step > 0 && Higher(phi, phiPrev))) return Zoom(tPrev, phiPrev, slopePrev, t, phi, dphi);
                Accept(phi);   // X now holds the best acceptable point so far
                if (Math.Abs(dphi) <= -Curvature * slope0) return true;
                if (dphi >= 0) return Zoom(t, phi, dphi, tPrev, phiPrev, slopePrev);
                tPrev = t; phiPrev = phi; slopePrev = dphi;
                t *= 2;
            }
            return false;
        }

        // Invariant: lo is acceptable (sufficient decrease) and, when lo &gt; 0, held in X; the step satisfying the
        // curvature condition lies between lo and hi.
        bool Zoom(double lo, double phiLo, double slopeLo, double hi, double phiHi, double slopeHi)
        {
            for (int step = 0; step < MaxLineSearchSteps; step++)
            {
                double t = Interpolate(lo, phiLo, slopeLo, hi, phiHi);
                var (phi, dphi) = Evaluate(t);
                // Within rounding of φ(lo) the values cannot say which side the minimiser is on, so t counts as no
                // worse than lo and the slope test below picks the side.
                if (!Decreases(t, phi, dphi) || Higher(phi, phiLo)) { hi = t; phiHi = phi; slopeHi = dphi; }
                else
                {
                    Accept(phi);
                    if (Math.Abs(dphi) <= -Curvature * slope0) return true;
                    if (dphi * (hi - lo) >= 0) { hi = lo; phiHi = phiLo; slopeHi = slopeLo; }
                    lo = t; phiLo = phi; slopeLo = dphi;
                }
                if (Math.Abs(hi - lo) <= 1e-16 * Math.Max(1, Math.Abs(lo))) break;
            }
            // The interval collapsed without the curvature condition: an acceptable lo is still progress (the caller
            // drops the pair if sᵀy ≤ 0).
            return lo != 0;
        }

        // Minimiser of the quadratic through (lo, φ_lo) with slope φ'_lo and (hi, φ_hi), kept inside the middle 80% of
        // the interval so the bracket always shrinks; bisection when the quadratic is unusable.
        static double Interpolate(double lo, double phiLo, double slopeLo, double hi, double phiHi)
        {
            double width = hi - lo;
            double t = lo + 0.5 * width;
            if (double.IsFinite(phiHi) && double.IsFinite(slopeLo))
            {
                double curvature = phiHi - phiLo - slopeLo * width;
                if (curvature > 0) t = lo - slopeLo * width * width / (2 * curvature);
            }
            double a = lo + 0.1 * width, b = lo + 0.9 * width;
            return Math.Clamp(t, Math.Min(a, b), Math.Max(a, b));
        }
    }

    static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += a[i] * b[i];
        return sum;
    }

    static double MaxAbs(ReadOnlySpan<double> a)
    {
        double m = 0;
        foreach (double v in a) m = Math.Max(m, Math.Abs(v));
        return m;
    }

    static bool AllFinite(ReadOnlySpan<double> a)
    {
        foreach (double v in a) if (!double.IsFinite(v)) return false;
        return true;
    }
}
