using System.Text.Json;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Training;
using Xunit;

namespace Lathe.Tests.Vision;

/// <summary>CLIP's symmetric contrastive loss against PyTorch (fixtures/make_clip_fixtures.py, float64) and against
/// finite differences.</summary>
public class ContrastiveLossTests
{
    static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "clip_loss.json");

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();

    static Tensor LossOf(Tensor a, Tensor b, Tensor s) => ContrastiveLoss.Forward(ContrastiveLoss.Normalize(a), ContrastiveLoss.Normalize(b), s);

    [Fact]
    public void MatchesPyTorch_LossLogitsAndGradients()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int n = c.GetProperty("n").GetInt32(), d = c.GetProperty("d").GetInt32();
            using var a = Tensor.Parameter(Floats(c.GetProperty("image")), n, d);
            using var b = Tensor.Parameter(Floats(c.GetProperty("text")), n, d);
            using var s = Tensor.Parameter([(float)c.GetProperty("log_scale").GetDouble()], 1);
            using var tape = new Tape();
            float loss;
            float[] logits;
            using (tape.Activate())
            {
                var l = LossOf(a, b, s);
                loss = l.Item();
                logits = ContrastiveLoss.Logits(ContrastiveLoss.Normalize(a), ContrastiveLoss.Normalize(b), s).ToArray();
                tape.Backward(l);
            }
            double expected = c.GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"n={n}: loss {loss} vs PyTorch {expected}");
            AssertClose(Floats(c.GetProperty("logits")), logits, $"n={n} logits");
            AssertClose(Floats(c.GetProperty("grad_image")), a.Grad!.ToArray(), $"n={n} dImage");
            AssertClose(Floats(c.GetProperty("grad_text")), b.Grad!.ToArray(), $"n={n} dText");
            AssertClose([(float)c.GetProperty("grad_log_scale").GetDouble()], s.Grad!.ToArray(), $"n={n} dLogScale");
        }
    }

    static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 + 1e-4 * Math.Abs(expected[i]), $"{what}[{i}]: {actual[i]} vs PyTorch {expected[i]}");
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        const int n = 6, d = 5;
        var rng = new Philox(7);
        var a0 = new float[n * d]; rng.FillNormal(a0);
        var b0 = new float[n * d]; rng.FillNormal(b0);
        foreach (float s0 in new[] { 1.5f, 4.0f })   // 4.0 is below ln 100 ≈ 4.605: the scale still learns
        {
            using var a = Tensor.Parameter(a0, n, d);
            using var b = Tensor.Parameter(b0, n, d);
            using var s = Tensor.Parameter([s0], 1);
            using var tape = new Tape();
            using (tape.Activate()) tape.Backward(LossOf(a, b, s));
            double Loss()
            {
                tape.Reset();
                using (tape.Activate()) using (Tape.NoGrad()) return LossOf(a, b, s).Item();
            }
            foreach (var t in new[] { a, b, s })
            {
                float[] analytic = t.Grad!.ToArray();
                var data = t.AsSpan();
                for (int i = 0; i < data.Length; i += Math.Max(1, data.Length / 7))
                {
                    float saved = data[i];
                    data[i] = saved + 1e-2f; double plus = Loss();
                    data[i] = saved - 1e-2f; double minus = Loss();
                    data[i] = saved;
                    double numeric = (plus - minus) / 2e-2;
                    Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"s={s0} [{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
                }
            }
        }
    }

    [Fact]
    public void PerfectlyAlignedPairsWithAHighScaleHaveNearZeroLoss_AndTheClampStopsTheScale()
    {
        // Orthonormal pairs, image i = text i: logits are scale on the diagonal, 0 elsewhere, so the loss is
        // log(1 + (n−1)·e^(−scale)) in both directions; above ln 100 the scale is clamped to 100.
        const int n = 4;
        var eye = new float[n * n];
        for (int i = 0; i < n; i++) eye[i * n + i] = 1;
        using var a = Tensor.Parameter(eye, n, n);
        using var b = Tensor.Parameter(eye, n, n);
        using var s = Tensor.Parameter([6f], 1);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var l = LossOf(a, b, s);
            Assert.Equal(Math.Log(1 + (n - 1) * Math.Exp(-100)), l.Item(), 6);
            tape.Backward(l);
        }
        Assert.Equal(0f, s.Grad!.ToArray()[0]);
        Assert.Throws<ArgumentException>(() => ContrastiveLoss.Forward(Tensor.Zeros(3, 2), Tensor.Zeros(4, 2), s));
    }
}
