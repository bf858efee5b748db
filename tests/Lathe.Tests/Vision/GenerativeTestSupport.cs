using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Vision;

/// <summary>Shared checks of the GAN and flow tests: fixture files, tensor comparison on the tensor's own scale, central
/// finite differences of a scalar loss, and the log|det| of a dense matrix.</summary>
internal static class GenerativeTestSupport
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", name);

    /// <summary>Each element within <paramref name="tolerance"/> × the largest |expected| of the tensor (float32 against a
    /// float64 reference: the error of a sum is on the scale of its largest terms, not of each element).</summary>
    public static void AssertClose(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = 1e-6;
        foreach (float v in expected) scale = Math.Max(scale, Math.Abs(v));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * scale, $"{what}[{i}]: {actual[i]:R} vs {expected[i]:R} (largest {scale:G4})");
    }

    /// <summary>Central differences (step <paramref name="eps"/>) of <paramref name="loss"/> at entries 0, n/3, 2n/3 and n−1
    /// of <paramref name="p"/> against the analytic gradient, within 2e-3 + 2e-2·|numeric| (float32 loss rounding over the
    /// step, and the step's O(h²) truncation).</summary>
    public static void CheckFiniteDifferences(ModelParameter p, float[] analytic, Func<double> loss, float eps = 1e-2f)
    {
        var data = p.Value.AsSpan();
        foreach (int i in new[] { 0, data.Length / 3, 2 * data.Length / 3, data.Length - 1 }.Distinct())
        {
            float saved = data[i];
            data[i] = saved + eps; double plus = loss();
            data[i] = saved - eps; double minus = loss();
            data[i] = saved;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{p.Name}[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
        }
    }

    /// <summary>The loss's value with no graph, on a reset tape.</summary>
    public static double Evaluate(Tape tape, Func<Tensor> loss)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return loss().Item();
    }

    /// <summary>log|det A| of an n×n row-major matrix by LU decomposition with partial pivoting, in double.</summary>
    public static double LogAbsDeterminant(double[] a, int n)
    {
        a = (double[])a.Clone();
        double logDet = 0;
        for (int k = 0; k < n; k++)
        {
            int pivot = k;
            for (int i = k + 1; i < n; i++) if (Math.Abs(a[i * n + k]) > Math.Abs(a[pivot * n + k])) pivot = i;
            if (pivot != k) for (int j = 0; j < n; j++) (a[k * n + j], a[pivot * n + j]) = (a[pivot * n + j], a[k * n + j]);
            double d = a[k * n + k];
            logDet += Math.Log(Math.Abs(d));
            for (int i = k + 1; i < n; i++)
            {
                double f = a[i * n + k] / d;
                for (int j = k; j < n; j++) a[i * n + j] -= f * a[k * n + j];
            }
        }
        return logDet;
    }

}
