using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Cross-entropy with per-row weights (SFT's loss mask): Σ wᵢ·ℓᵢ / Σ wᵢ, checked against the unweighted
/// per-row losses it is built from, against finite differences, and — with every weight 1 — bit for bit against the
/// unweighted op.</summary>
public class WeightedCrossEntropyTests
{
    static Tensor Logits(int n, int v, int seed)
    {
        var rng = new Random(seed);
        var data = new float[n * v];
        for (int i = 0; i < data.Length; i++) data[i] = (float)(rng.NextDouble() * 4 - 2);
        return Tensor.FromArray(data, n, v);
    }

    [Fact]
    public void Weighted_loss_is_the_weighted_mean_of_the_rows_losses()
    {
        const int N = 9, V = 13;
        using var x = Logits(N, V, 3);
        int[] targets = [1, 12, 0, -100, 5, 7, 7, 2, 11];
        float[] weights = [1f, 0f, 0.5f, 3f, 2f, 1f, 0f, 0.25f, 1f];
        double sum = 0, wsum = 0;
        for (int i = 0; i < N; i++)
        {
            if (targets[i] == -100) continue;
            // Each row's loss alone, through the unweighted op: log Σ exp(x) − x[t].
            using var row = Tensor.FromArray(x.AsSpan().Slice(i * V, V).ToArray(), 1, V);
            double li = Ops.CrossEntropy(row, targets.AsSpan(i, 1)).Item();
            sum += weights[i] * li;
            wsum += weights[i];
        }
        float weighted = Ops.CrossEntropy(x, targets, weights).Item();
        Assert.Equal(sum / wsum, weighted, 5);
    }

    [Fact]
    public void Unit_weights_are_bit_for_bit_the_unweighted_loss_and_gradient()
    {
        const int N = 37, V = 70;
        using var a = Logits(N, V, 5);
        using var b = Logits(N, V, 5);
        a.RequiresGrad = b.RequiresGrad = true;
        var targets = Enumerable.Range(0, N).Select(i => i % 9 == 4 ? -100 : (i * 11) % V).ToArray();
        var ones = Enumerable.Repeat(1f, N).ToArray();
        using var tape = new Tape();
        float la, lb;
        using (tape.Activate()) { var l = Ops.CrossEntropy(a, targets); la = l.Item(); tape.Backward(l); }
        tape.Reset();
        using (tape.Activate()) { var l = Ops.CrossEntropy(b, targets, ones); lb = l.Item(); tape.Backward(l); }
        Assert.Equal(BitConverter.SingleToInt32Bits(la), BitConverter.SingleToInt32Bits(lb));
        Assert.True(a.Grad!.AsSpan().SequenceEqual(b.Grad!.AsSpan()));
    }

    [Fact]
    public void Gradient_matches_finite_differences()
    {
        int[] targets = [3, -100, 0, 16, 8];
        float[] weights = [0.5f, 1f, 0f, 2f, 1.5f];
        GradCheck.Check(x => Ops.CrossEntropy(x[0], targets, weights), [GradCheck.Random(19, -2f, 2f, 5, 17)]);
    }

    [Fact]
    public void Zero_weights_give_zero_loss_and_no_gradient()
    {
        using var x = Logits(4, 6, 7);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var l = Ops.CrossEntropy(x, [1, 2, 3, 4], [0f, 0f, 0f, 0f]);
            Assert.Equal(0f, l.Item());
            tape.Backward(l);
        }
        Assert.All(x.Grad!.ToArray(), g => Assert.Equal(0f, g));
    }

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void A_bad_weight_is_an_error_naming_the_row(float bad)
    {
        using var x = Logits(3, 5, 1);
        var e = Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(x, [0, 1, 2], [1f, bad, 1f]));
        Assert.Contains("row 1", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.CrossEntropy(x, [0, 1, 2], [1f, 1f]));
    }
}
