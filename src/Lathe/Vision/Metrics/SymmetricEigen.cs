namespace Lathe.Vision.Metrics;

/// <summary>Eigenvalues and eigenvectors of a real symmetric matrix in double precision by the cyclic Jacobi method
/// (Jacobi 1846; Golub &amp; Van Loan, Matrix Computations, 4th ed., §8.5): plane rotations, each zeroing one
/// off-diagonal pair, swept row by row until the off-diagonal part is negligible. Slower than Householder + QL for
/// large n (O(n³) per sweep, ~6–10 sweeps) but short and accurate to a few ulps of ‖A‖ — for the feature covariances
/// of the Fréchet distance (n up to a few hundred) it takes well under a second.</summary>
public static class SymmetricEigen
{
    /// <summary>Decomposes the symmetric n×n row-major <paramref name="a"/> = V diag(λ) Vᵀ. Returns λ (unsorted, in the
    /// order of V's columns) and, when <paramref name="vectors"/> is true, V (n×n row-major, orthonormal columns);
    /// <paramref name="a"/> is left unchanged. Only the upper triangle is read as the matrix; a non-symmetric input is a
    /// caller error.</summary>
    public static (double[] Values, double[]? Vectors) Decompose(ReadOnlySpan<double> a, int n, bool vectors = true)
    {
        if (a.Length != n * n) throw new ArgumentException($"SymmetricEigen: {a.Length} values are not a {n}×{n} matrix");
        var m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = i; j < n; j++) m[i * n + j] = m[j * n + i] = a[i * n + j];
        double[]? v = null;
        if (vectors)
        {
            v = new double[n * n];
            for (int i = 0; i < n; i++) v[i * n + i] = 1;
        }
        double total = 0;
        foreach (double x in m) total += x * x;
        for (int sweep = 0; sweep < 60; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
            // Stop when the off-diagonal mass is at round-off level of the whole matrix (quadratic convergence gets
            // there in a handful of sweeps).
            if (off <= 1e-30 * total || off == 0) break;
            for (int p = 0; p < n - 1; p++)
                for (int q = p + 1; q < n; q++) Rotate(m, v, n, p, q);
        }
        var values = new double[n];
        for (int i = 0; i < n; i++) values[i] = m[i * n + i];
        return (values, v);
    }

    // One Jacobi rotation J(p, q, θ) with B = Jᵀ A J, b_pq = 0: τ = (a_qq − a_pp) / (2 a_pq), t = tan θ the smaller root
    // of t² + 2τt − 1 = 0, c = 1/√(1+t²), s = t·c (Golub & Van Loan, Algorithm 8.5.1).
    static void Rotate(double[] m, double[]? v, int n, int p, int q)
    {
        double apq = m[p * n + q];
        if (apq == 0) return;
        double app = m[p * n + p], aqq = m[q * n + q];
        double tau = (aqq - app) / (2 * apq);
        double t = tau >= 0 ? 1 / (tau + Math.Sqrt(1 + tau * tau)) : -1 / (-tau + Math.Sqrt(1 + tau * tau));
        if (double.IsInfinity(tau)) t = 0;   // |a_pq| negligible against the diagonal gap
        if (t == 0) { m[p * n + q] = m[q * n + p] = 0; return; }
        double c = 1 / Math.Sqrt(1 + t * t), s = t * c;
        for (int k = 0; k < n; k++)   // columns p, q: A ← A J
        {
            double akp = m[k * n + p], akq = m[k * n + q];
            m[k * n + p] = c * akp - s * akq;
            m[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++)   // rows p, q: A ← Jᵀ A
        {
            double apk = m[p * n + k], aqk = m[q * n + k];
            m[p * n + k] = c * apk - s * aqk;
            m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = m[q * n + p] = 0;
        if (v is null) return;
        for (int k = 0; k < n; k++)   // V ← V J
        {
            double vkp = v[k * n + p], vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
        }
    }
}
