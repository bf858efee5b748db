using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Vision;

/// <summary>What the captioner tests share: fixture files, setting tensors from them by name, comparing against them, and
/// a finite-difference check of a scalar loss.</summary>
internal static class CaptionerTestSupport
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", name);

    /// <summary>Copies <paramref name="prefix"/>+name of the file into every parameter (transposing the stored-transposed
    /// ones, as a Hugging Face checkpoint holds them).</summary>
    public static void SetParameters(SafetensorsFile file, IEnumerable<ModelParameter> parameters, string prefix = "")
    {
        foreach (var p in parameters)
        {
            float[] data = file.ReadFloats(prefix + p.Name);
            Assert.Equal(p.Value.Length, data.Length);
            if (!p.StoredTransposed) { data.CopyTo(p.Value.AsSpan()); continue; }
            int rows = p.Value.Dim(0), cols = p.Value.Dim(1);   // stored (cols, rows)
            var dst = p.Value.AsSpan();
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) dst[r * cols + c] = data[c * rows + r];
        }
    }

    /// <summary>The gradient the file holds for a parameter, in the engine's layout.</summary>
    public static float[] Gradient(SafetensorsFile file, ModelParameter p, string prefix = "")
    {
        float[] data = file.ReadFloats("grad." + prefix + p.Name);
        if (!p.StoredTransposed) return data;
        int rows = p.Value.Dim(0), cols = p.Value.Dim(1);
        var r = new float[data.Length];
        for (int i = 0; i < rows; i++)
            for (int c = 0; c < cols; c++) r[i * cols + c] = data[c * rows + i];
        return r;
    }

    public static Tensor Load(SafetensorsFile file, string name)
    {
        var e = file.Entries[name];
        return Tensor.FromArray(file.ReadFloats(name), e.Shape.Select(d => (int)d).ToArray());
    }

    /// <summary>|actual − expected| ≤ tol·(1 + |expected|) everywhere, naming the first element that is not.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(actual[i] - expected[i]) <= tol * (1 + MathF.Abs(expected[i])),
                $"{what}[{i}]: expected {expected[i]:G7}, got {actual[i]:G7}");
    }

    /// <summary>Central differences of <paramref name="loss"/> (a scalar, evaluated without a tape) against the tape's
    /// gradient, for <paramref name="samples"/> seeded elements of each tensor. The loss is summed in float32, so eps = 1e-2
    /// and a tolerance of 2e-3·(1 + |numeric|), as the engine's GradCheck.</summary>
    public static void FiniteDifferences(Func<Tensor> loss, IReadOnlyList<(string Name, Tensor Value)> inputs, int samples = 6, double eps = 1e-2, double tolerance = 2e-3)
    {
        foreach (var (_, x) in inputs) { x.RequiresGrad = true; x.ZeroGrad(); }
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(loss());
        var rng = new Random(7);
        foreach (var (name, x) in inputs)
        {
            float[] analytic = x.Grad!.ToArray();
            var data = x.AsSpan();
            for (int s = 0; s < Math.Min(samples, x.Length); s++)
            {
                int i = rng.Next(x.Length);
                float saved = data[i];
                data[i] = saved + (float)eps;
                double plus = Evaluate(loss, tape);
                data[i] = saved - (float)eps;
                double minus = Evaluate(loss, tape);
                data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= tolerance * (1 + Math.Abs(numeric)),
                    $"{name}[{i}]: analytic {analytic[i]:G6}, numeric {numeric:G6}");
            }
        }
    }

    static double Evaluate(Func<Tensor> loss, Tape tape)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return loss().Item();
    }
}
