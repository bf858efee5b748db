using System.Text.Json;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Training;
using Xunit;

namespace Lathe.Tests.Vision;

/// <summary>Label-smoothed cross-entropy against PyTorch's F.cross_entropy(label_smoothing=ε)
/// (fixtures/make_label_smoothing_fixtures.py, float64) and against finite differences.</summary>
public class SmoothedCrossEntropyTests
{
    static readonly string FixturePath = Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "label_smoothing.json");

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();

    [Fact]
    public void MatchesPyTorch_LossAndGradient()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(FixturePath));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
        {
            int n = c.GetProperty("n").GetInt32(), k = c.GetProperty("k").GetInt32();
            float eps = (float)c.GetProperty("smoothing").GetDouble();
            int[] labels = c.GetProperty("labels").EnumerateArray().Select(x => x.GetInt32()).ToArray();
            using var logits = Tensor.Parameter(Floats(c.GetProperty("logits")), n, k);
            using var tape = new Tape();
            float loss;
            using (tape.Activate())
            {
                var l = SmoothedCrossEntropy.Forward(logits, labels, eps);
                loss = l.Item();
                tape.Backward(l);
            }
            double expected = c.GetProperty("loss").GetDouble();
            Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Max(1, Math.Abs(expected)), $"ε={eps}: loss {loss} vs PyTorch {expected}");
            float[] want = Floats(c.GetProperty("grad")), got = logits.Grad!.ToArray();
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(want[i] - got[i]) <= 1e-6 + 1e-4 * Math.Abs(want[i]), $"ε={eps} dLogits[{i}]: {got[i]} vs PyTorch {want[i]}");
        }
    }

    [Fact]
    public void GradientMatchesFiniteDifferences()
    {
        const int n = 6, k = 5;
        int[] labels = [0, 4, 2, 2, 1, 3];
        var rng = new Philox(11);
        var x0 = new float[n * k]; rng.FillNormal(x0);
        foreach (float eps in new[] { 0.1f, 0.5f })
        {
            using var x = Tensor.Parameter(x0, n, k);
            using var tape = new Tape();
            using (tape.Activate()) tape.Backward(SmoothedCrossEntropy.Forward(x, labels, eps));
            double Loss()
            {
                tape.Reset();
                using (tape.Activate()) using (Tape.NoGrad()) return SmoothedCrossEntropy.Forward(x, labels, eps).Item();
            }
            float[] analytic = x.Grad!.ToArray();
            var data = x.AsSpan();
            for (int i = 0; i < data.Length; i++)
            {
                float saved = data[i];
                data[i] = saved + 1e-2f; double plus = Loss();
                data[i] = saved - 1e-2f; double minus = Loss();
                data[i] = saved;
                double numeric = (plus - minus) / 2e-2;
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-3 + 1e-2 * Math.Abs(numeric), $"ε={eps} [{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
            }
        }
    }

    [Fact]
    public void ZeroSmoothingIsPlainCrossEntropy_AndBadSmoothingIsRejected()
    {
        var rng = new Philox(3);
        var x0 = new float[12]; rng.FillNormal(x0);
        using var x = Tensor.FromArray(x0, 4, 3);
        int[] labels = [2, 0, 1, 1];
        Assert.Equal(Ops.CrossEntropy(x, labels).Item(), SmoothedCrossEntropy.Forward(x, labels, 0).Item());
        Assert.Throws<ArgumentOutOfRangeException>(() => SmoothedCrossEntropy.Forward(x, labels, 1f));
        Assert.Throws<ArgumentOutOfRangeException>(() => SmoothedCrossEntropy.Forward(x, labels, -0.1f));
        Assert.Throws<ArgumentException>(() => SmoothedCrossEntropy.Forward(x, [1, 2], 0.1f));
    }
}
