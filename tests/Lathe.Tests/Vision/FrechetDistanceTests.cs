using System.Text.Json;
using Lathe.Tensors;
using Lathe.Vision.Metrics;

namespace Lathe.Tests.Vision;

/// <summary>The Fréchet distance against numpy/scipy (fixtures/make_frechet_fixtures.py), against closed forms (one
/// dimension, diagonal covariances, d(X, X) = 0, invariance under a rigid motion of feature space), and the Jacobi
/// eigensolver against matrices built from a known spectrum.</summary>
public class FrechetDistanceTests
{
    sealed record Case(string Name, int N1, int N2, int D, float[] X, float[] Y, double D2, double[] Mean1, double[]? Cov1);

    static List<Case> Fixtures()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "frechet_fixtures.json")));
        static float[] Floats(JsonElement e) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(Convert.FromBase64String(e.GetString()!)).ToArray();
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("name").GetString()!, c.GetProperty("n1").GetInt32(), c.GetProperty("n2").GetInt32(), c.GetProperty("d").GetInt32(),
            Floats(c.GetProperty("x")), Floats(c.GetProperty("y")), c.GetProperty("d2").GetDouble(),
            c.GetProperty("mean1").EnumerateArray().Select(v => v.GetDouble()).ToArray(),
            c.GetProperty("cov1").ValueKind == JsonValueKind.Null ? null : c.GetProperty("cov1").EnumerateArray().Select(v => v.GetDouble()).ToArray())).ToList();
    }

    static FeatureStatistics Stats(float[] rows, int d)
    {
        var acc = new FeatureStatistics.Accumulator(d);
        acc.Add(rows);
        return acc.Result();
    }

    [Fact]
    public void Matches_numpy_and_scipy_on_the_fixtures()
    {
        var cases = Fixtures();
        Assert.Equal(3, cases.Count);
        foreach (var c in cases)
        {
            var a = Stats(c.X, c.D);
            var b = Stats(c.Y, c.D);
            Assert.Equal(c.N1, a.Count);
            for (int j = 0; j < c.D; j++) Assert.Equal(c.Mean1[j], a.Mean[j], 1e-10);
            if (c.Cov1 is not null) for (int j = 0; j < c.Cov1.Length; j++) Assert.Equal(c.Cov1[j], a.Covariance[j], 1e-10);
            double d2 = FrechetDistance.Squared(a, b);
            // Full-rank covariances: agreement to round-off. N < D leaves Σ singular; the square roots of its round-off
            // eigenvalues (~1e-15, clamped or not) then move d² by ~1e-7, in numpy as here.
            double tolerance = c.Name == "rank_deficient" ? 1e-6 : 1e-9;
            Assert.True(Math.Abs(d2 - c.D2) <= tolerance * c.D2, $"{c.Name}: d² {d2:R}, numpy {c.D2:R}");
        }
    }

    [Fact]
    public void Is_zero_for_one_set_and_unchanged_by_rotating_and_moving_both()
    {
        var c = Fixtures().Single(f => f.Name == "medium");
        var a = Stats(c.X, c.D);
        double trace = 0;
        for (int i = 0; i < c.D; i++) trace += a.Covariance[i * c.D + i];
        Assert.True(FrechetDistance.Squared(a, a) <= 1e-10 * trace, $"d(X, X)² = {FrechetDistance.Squared(a, a)}");

        // x → Q x + t with Q orthogonal (a product of two Householder reflections) keeps every term of d².
        var random = new Random(4);
        var q = Orthogonal(c.D, random);
        var t = Enumerable.Range(0, c.D).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        float[] Move(float[] rows) => Enumerable.Range(0, rows.Length).Select(k =>
        {
            int r = k / c.D, i = k % c.D;
            double s = t[i];
            for (int j = 0; j < c.D; j++) s += q[i * c.D + j] * rows[r * c.D + j];
            return (float)s;
        }).ToArray();
        double before = FrechetDistance.Squared(a, Stats(c.Y, c.D));
        double after = FrechetDistance.Squared(Stats(Move(c.X), c.D), Stats(Move(c.Y), c.D));
        Assert.True(Math.Abs(after - before) <= 1e-5 * before, $"{before} → {after}");   // float32 storage of the moved features
    }

    [Fact]
    public void Reduces_to_the_closed_forms()
    {
        // One dimension: d² = (μ₁ − μ₂)² + (σ₁ − σ₂)², with the unbiased sample standard deviations.
        var random = new Random(9);
        float[] x = Enumerable.Range(0, 300).Select(_ => (float)(random.NextDouble() * 3 - 1)).ToArray();
        float[] y = Enumerable.Range(0, 200).Select(_ => (float)(random.NextDouble() * random.NextDouble() * 5 + 2)).ToArray();
        static (double Mean, double Sd) MeanSd(float[] v)
        {
            double m = v.Average(f => (double)f);
            return (m, Math.Sqrt(v.Sum(f => (f - m) * (f - m)) / (v.Length - 1)));
        }
        var (mx, sx) = MeanSd(x);
        var (my, sy) = MeanSd(y);
        double expected = (mx - my) * (mx - my) + (sx - sy) * (sx - sy);
        Assert.Equal(expected, FrechetDistance.Squared(Stats(x, 1), Stats(y, 1)), 1e-12);

        // Diagonal covariances: d² = Σ (μ₁ᵢ − μ₂ᵢ)² + Σ (√a_i − √b_i)² — including a zero variance.
        double[] va = [4, 1, 0, 2.25, 9], vb = [1, 1, 3, 0.25, 16], ma = [0, 1, 2, 3, 4], mb = [1, 1, 0, 3, -4];
        double closed = 0;
        for (int i = 0; i < 5; i++) closed += (ma[i] - mb[i]) * (ma[i] - mb[i]) + Math.Pow(Math.Sqrt(va[i]) - Math.Sqrt(vb[i]), 2);
        Assert.Equal(closed, FrechetDistance.Squared(new FeatureStatistics(2, ma, Diagonal(va)), new FeatureStatistics(2, mb, Diagonal(vb))), 1e-12);
    }

    [Fact]
    public void Jacobi_recovers_a_known_spectrum()
    {
        var random = new Random(12);
        foreach (int n in new[] { 1, 2, 3, 10, 37 })
        {
            // A = Q diag(λ) Qᵀ with repeated, zero and negative eigenvalues.
            var lambda = Enumerable.Range(0, n).Select(i => i % 4 == 1 ? 0.0 : i % 5 == 2 ? 3.0 : random.NextDouble() * 20 - 5).ToArray();
            var q = Orthogonal(n, random);
            var a = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    for (int k = 0; k < n; k++) a[i * n + j] += q[i * n + k] * lambda[k] * q[j * n + k];
            var (values, vectors) = SymmetricEigen.Decompose(a, n);
            double scale = lambda.Max(Math.Abs);
            var sorted = values.Order().ToArray();
            var want = lambda.Order().ToArray();
            for (int i = 0; i < n; i++) Assert.True(Math.Abs(sorted[i] - want[i]) <= 1e-12 * scale, $"n={n}: λ {sorted[i]} vs {want[i]}");
            var v = vectors!;
            for (int p = 0; p < n; p++)
                for (int r = 0; r < n; r++)
                {
                    double dot = 0, av = 0;
                    for (int k = 0; k < n; k++) { dot += v[k * n + p] * v[k * n + r]; av += a[r * n + k] * v[k * n + p]; }
                    Assert.True(Math.Abs(dot - (p == r ? 1 : 0)) <= 1e-12, $"n={n}: VᵀV[{p},{r}] = {dot}");
                    Assert.True(Math.Abs(av - values[p] * v[r * n + p]) <= 1e-12 * scale, $"n={n}: (AV − VΛ)[{r},{p}]");
                }
        }
    }

    /// <summary>A fixed linear map of the pixels, D = 5: a stand-in for a classifier's features.</summary>
    sealed class LinearFeatures(int inputs) : IImageFeatures
    {
        public readonly float[] Weights = Enumerable.Range(0, 5 * inputs).Select(i => (float)Math.Sin(i * 0.37)).ToArray();
        public int Dimension => 5;
        public int Calls;
        public Tensor Features(Tensor images)
        {
            Calls++;
            int n = images.Dim(0);
            var x = images.ToArray();
            var f = new float[n * 5];
            for (int b = 0; b < n; b++)
                for (int o = 0; o < 5; o++)
                {
                    float s = 0;
                    for (int i = 0; i < inputs; i++) s += Weights[o * inputs + i] * x[b * inputs + i];
                    f[b * 5 + o] = s;
                }
            return Tensor.FromArray(f, n, 5);
        }
    }

    sealed class WrongShape : IImageFeatures
    {
        public int Dimension => 5;
        public Tensor Features(Tensor images) => Tensor.Zeros(images.Dim(0), 4);
    }

    [Fact]
    public void Between_runs_the_extractor_in_batches_and_matches_the_whole_set()
    {
        var random = new Random(6);
        float[] Pixels(int n, double bias) => Enumerable.Range(0, n * 2 * 3 * 3).Select(_ => (float)(random.NextDouble() + bias)).ToArray();
        using var real = Tensor.FromArray(Pixels(23, 0), 23, 2, 3, 3);
        using var fake = Tensor.FromArray(Pixels(17, 0.2), 17, 2, 3, 3);
        var model = new LinearFeatures(18);
        double batched = FrechetDistance.Between(model, real, fake, batchSize: 7);
        Assert.Equal(4 + 3, model.Calls);   // ⌈23/7⌉ + ⌈17/7⌉
        using var fr = model.Features(real);
        using var ff = model.Features(fake);
        double whole = FrechetDistance.Squared(FeatureStatistics.Of(fr), FeatureStatistics.Of(ff));
        Assert.True(whole > 0.01);
        Assert.Equal(whole, batched, 1e-9 * whole);
        Assert.Contains("returned (7, 4) for 7 images, not (7, 5)", Assert.Throws<InvalidOperationException>(() => FrechetDistance.Between(new WrongShape(), real, fake, 7)).Message);
    }

    static double[] Diagonal(double[] v)
    {
        var m = new double[v.Length * v.Length];
        for (int i = 0; i < v.Length; i++) m[i * v.Length + i] = v[i];
        return m;
    }

    // Q = H₁H₂ with H = I − 2uuᵀ/uᵀu for random u: orthogonal, and not a permutation.
    static double[] Orthogonal(int n, Random random)
    {
        var q = new double[n * n];
        for (int i = 0; i < n; i++) q[i * n + i] = 1;
        for (int h = 0; h < 2; h++)
        {
            var u = Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray();
            double uu = u.Sum(x => x * x);
            var next = new double[n * n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int k = 0; k < n; k++) s += q[i * n + k] * ((k == j ? 1 : 0) - 2 * u[k] * u[j] / uu);
                    next[i * n + j] = s;
                }
            q = next;
        }
        return q;
    }
}
