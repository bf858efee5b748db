using Lathe.Evaluation.Scaling;

namespace Lathe.Tests.Evaluation.Scaling;

/// <summary>L-BFGS against minima known in closed form.</summary>
public class LbfgsTests
{
    // f(x, y) = (1 − x)² + 100·(y − x²)²: a curved valley with its minimum 0 at (1, 1) (Rosenbrock 1960).
    static double Rosenbrock(ReadOnlySpan<double> p, Span<double> g)
    {
        double x = p[0], y = p[1];
        g[0] = -2 * (1 - x) - 400 * x * (y - x * x);
        g[1] = 200 * (y - x * x);
        return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
    }

    [Theory]
    [InlineData(-1.2, 1.0)]   // the classic start
    [InlineData(2.0, -1.0)]
    [InlineData(-3.0, -4.0)]
    public void Rosenbrock_converges_to_one_one(double x0, double y0)
    {
        var result = Lbfgs.Minimize(Rosenbrock, [x0, y0]);
        Assert.True(result.Converged, result.Reason);
        // At a minimum with Hessian ≈ [[802, −400], [−400, 200]] a gradient of 1e-12 leaves x within ~1e-9.
        Assert.Equal(1.0, result.X[0], 1e-8);
        Assert.Equal(1.0, result.X[1], 1e-8);
        Assert.True(result.Value < 1e-18, $"f = {result.Value}");
        Assert.True(result.Iterations < 200, $"{result.Iterations} iterations");
    }

    [Fact]
    public void A_convex_quadratic_reaches_its_closed_form_minimum()
    {
        // f(x) = ½xᵀQx − cᵀx with Q symmetric positive definite (condition ~100): the minimum is Q⁻¹c.
        const int n = 6;
        var rng = new Random(7);
        var m = new double[n, n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i, j] = rng.NextDouble() - 0.5;
        var q = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += m[k, i] * m[k, j];
                q[i, j] = s + (i == j ? 0.01 * (i + 1) : 0);
            }
        var c = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        double F(ReadOnlySpan<double> x, Span<double> g)
        {
            double f = 0;
            for (int i = 0; i < n; i++)
            {
                double qx = 0;
                for (int j = 0; j < n; j++) qx += q[i, j] * x[j];
                g[i] = qx - c[i];
                f += 0.5 * x[i] * qx - c[i] * x[i];
            }
            return f;
        }
        var result = Lbfgs.Minimize(F, new double[n]);
        Assert.True(result.Converged, result.Reason);
        double[] exact = Solve(q, c);
        for (int i = 0; i < n; i++) Assert.Equal(exact[i], result.X[i], 1e-8);
    }

    [Fact]
    public void The_same_start_gives_the_same_bits()
    {
        var a = Lbfgs.Minimize(Rosenbrock, [-1.2, 1.0]);
        var b = Lbfgs.Minimize(Rosenbrock, [-1.2, 1.0]);
        Assert.Equal(a.X, b.X);
        Assert.Equal(a.Iterations, b.Iterations);
    }

    [Fact]
    public void Steps_into_a_region_where_f_is_not_finite_are_shortened()
    {
        // f(x) = x − ln x on x > 0, NaN beyond: its minimum is at x = 1. From x = 50 the slope is nearly constant, so
        // the bracketing phase doubles the step (1, 2, …, 64) until it lands at x < 0, where f is NaN.
        int notFinite = 0;
        double F(ReadOnlySpan<double> x, Span<double> g)
        {
            g[0] = 1 - 1 / x[0];
            if (x[0] > 0) return x[0] - Math.Log(x[0]);
            notFinite++;
            return double.NaN;
        }
        var result = Lbfgs.Minimize(F, [50.0]);
        Assert.True(notFinite > 0, "the test never stepped outside the domain");
        Assert.True(result.Converged, result.Reason);
        Assert.Equal(1.0, result.X[0], 1e-9);
    }

    [Fact]
    public void A_start_where_f_is_not_finite_is_an_argument_error()
    {
        static double Bad(ReadOnlySpan<double> x, Span<double> g) { g[0] = 0; return double.NaN; }
        var e = Assert.Throws<ArgumentException>(() => Lbfgs.Minimize(Bad, [0.0]));
        Assert.Contains("not finite", e.Message);
    }

    // Gaussian elimination with partial pivoting: the closed-form minimiser Q⁻¹c.
    internal static double[] Solve(double[,] matrix, double[] rhs)
    {
        int n = rhs.Length;
        var a = (double[,])matrix.Clone();
        var b = (double[])rhs.Clone();
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            for (int k = 0; k < n; k++) (a[col, k], a[pivot, k]) = (a[pivot, k], a[col, k]);
            (b[col], b[pivot]) = (b[pivot], b[col]);
            for (int r = col + 1; r < n; r++)
            {
                double factor = a[r, col] / a[col, col];
                for (int k = col; k < n; k++) a[r, k] -= factor * a[col, k];
                b[r] -= factor * b[col];
            }
        }
        var x = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double s = b[r];
            for (int k = r + 1; k < n; k++) s -= a[r, k] * x[k];
            x[r] = s / a[r, r];
        }
        return x;
    }
}
