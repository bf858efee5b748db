using Lathe.Tensors;

namespace Lathe.Tensors.Tests.Autograd;

// Wiring checks (finite differences) for the layer-level ops; the kernels' numerical accuracy is
// checked separately against scalar twins and PyTorch fixtures.
public class LayerOpGradientTests
{
    [Fact]
    public void Unary_functions()
    {
        GradCheck.Check(x => Ops.Exp(x[0]), [GradCheck.Random(1, 3, 17)]);
        GradCheck.Check(x => Ops.Log(x[0]), [GradCheck.Random(2, 0.5f, 2f, 3, 17)]);
        GradCheck.Check(x => Ops.Tanh(x[0]), [GradCheck.Random(3, 3, 17)]);
        GradCheck.Check(x => Ops.Sqrt(x[0]), [GradCheck.Random(4, 0.5f, 2f, 3, 17)]);
        GradCheck.Check(x => Ops.Gelu(x[0], tanhApproximation: true), [GradCheck.Random(5, -3f, 3f, 63)]);
        GradCheck.Check(x => Ops.Gelu(x[0], tanhApproximation: false), [GradCheck.Random(6, -3f, 3f, 63)]);
        GradCheck.Check(x => Ops.Silu(x[0]), [GradCheck.Random(7, -3f, 3f, 63)]);
        GradCheck.Check(x => Ops.SwiGlu(x[0], x[1]), [GradCheck.Random(8, -3f, 3f, 5, 17), GradCheck.Random(9, 5, 17)]);
    }

    [Fact]
    public void Softmax_and_log_softmax()
    {
        GradCheck.Check(x => Ops.Softmax(x[0]), [GradCheck.Random(10, -2f, 2f, 3, 17)]);
        GradCheck.Check(x => Ops.LogSoftmax(x[0]), [GradCheck.Random(11, -2f, 2f, 3, 1, 17)]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(17)]
    [InlineData(64)]
    public void Norms(int cols)
    {
        GradCheck.Check(x => Ops.LayerNorm(x[0], x[1], x[2]),
            [GradCheck.Random(12, 3, cols), GradCheck.Random(13, 0.5f, 1.5f, cols), GradCheck.Random(14, cols)], tolerance: 5e-3);
        GradCheck.Check(x => Ops.RmsNorm(x[0], x[1]), [GradCheck.Random(15, 3, cols), GradCheck.Random(16, 0.5f, 1.5f, cols)], tolerance: 5e-3);
    }

    [Fact]
    public void Embedding_accumulates_repeated_ids()
    {
        int[] ids = [3, 0, 3, 4, 3];
        GradCheck.Check(x => Ops.Embedding(x[0], ids), [GradCheck.Random(17, 5, 7)]);
    }

    [Fact]
    public void Cross_entropy_skips_ignored_rows()
    {
        int[] targets = [2, -100, 0, 16, 5];
        GradCheck.Check(x => Ops.CrossEntropy(x[0], targets), [GradCheck.Random(18, -2f, 2f, 5, 17)]);
    }

    [Fact]
    public void Dropout_backward_uses_the_forward_mask()
    {
        GradCheck.Check(x => Ops.Dropout(x[0], 0.3f, 42), [GradCheck.Random(19, 4, 33)]);
    }

    [Fact]
    public void Rope_concat_split()
    {
        var tables = RopeTables.Create(16, 8, theta: 10000, scaling: 2);
        GradCheck.Check(x => Ops.Rope(x[0], tables, positionOffset: 3), [GradCheck.Random(20, 2, 3, 5, 8)]);
        GradCheck.Check(x => Ops.Concat([x[0], x[1], x[2]], 1), [GradCheck.Random(21, 2, 3, 4), GradCheck.Random(22, 2, 1, 4), GradCheck.Random(23, 2, 2, 4)]);
        GradCheck.Check(x =>
        {
            var parts = new Tensor[2];
            Ops.Split(x[0], -1, [2, 5], parts);
            return Ops.Mul(Ops.Sum(parts[0], -1, keepDim: true), parts[1]);
        }, [GradCheck.Random(24, 3, 7)]);
    }

    [Theory]
    [InlineData(true, 1, false, 0, false)]
    [InlineData(false, 2, true, 0, false)]
    [InlineData(true, 4, false, 2, true)]
    [InlineData(true, 2, true, 0, true)]
    public void Attention(bool causal, int group, bool withBias, int window, bool padded)
    {
        int B = 2, Hkv = 2, H = Hkv * group, T = 3, S = 5, D = 4;
        int[] lengths = padded ? [5, 3] : [];
        var inputs = new List<Tensor> { GradCheck.Random(25, B, H, T, D), GradCheck.Random(26, B, Hkv, S, D), GradCheck.Random(27, B, Hkv, S, D) };
        if (withBias) inputs.Add(GradCheck.Random(28, H, T, S));
        GradCheck.Check(x => Ops.Attention(x[0], x[1], x[2], causal, bias: withBias ? x[3] : null, keyLengths: lengths, window: window),
            inputs.ToArray(), tolerance: 5e-3);
    }

    /// <summary>With dropout on the probabilities: a fixed seed fixes the mask, so the op is a smooth function the
    /// finite differences can check (the mask is redrawn identically by the backward).</summary>
    [Theory]
    [InlineData(true, 2, false, 0.3f)]
    [InlineData(false, 1, true, 0.5f)]
    public void Attention_with_dropout(bool causal, int group, bool withBias, float dropout)
    {
        int B = 2, Hkv = 2, H = Hkv * group, T = 3, S = 5, D = 4;
        var inputs = new List<Tensor> { GradCheck.Random(35, B, H, T, D), GradCheck.Random(36, B, Hkv, S, D), GradCheck.Random(37, B, Hkv, S, D) };
        if (withBias) inputs.Add(GradCheck.Random(38, H, T, S));
        GradCheck.Check(x => Ops.Attention(x[0], x[1], x[2], causal, bias: withBias ? x[3] : null, dropout: dropout, dropoutSeed: 77),
            inputs.ToArray(), tolerance: 5e-3);
    }

    [Fact]
    public void Attention_dropout_keeps_about_1_minus_p_and_zero_rate_changes_nothing()
    {
        // V = identity rows (D = S): O[t] is row t of the dropped probabilities, so O shows the mask directly.
        int B = 4, H = 4, T = 64, S = 64;
        using var q = GradCheck.Random(40, B, H, T, S);
        using var k = GradCheck.Random(41, B, H, S, S);
        var eye = new float[B * H * S * S];
        for (int bh = 0; bh < B * H; bh++) for (int s = 0; s < S; s++) eye[(bh * S + s) * S + s] = 1f;
        using var v = Tensor.FromArray(eye, B, H, S, S);
        var plain = Ops.Attention(q, k, v, causal: false).ToArray();
        Assert.Equal(plain, Ops.Attention(q, k, v, causal: false, dropout: 0f, dropoutSeed: 5).ToArray());
        const float p = 0.25f;
        var dropped = Ops.Attention(q, k, v, causal: false, dropout: p, dropoutSeed: 5).ToArray();
        int kept = 0, n = plain.Length;
        for (int i = 0; i < n; i++)
        {
            if (dropped[i] == 0f) continue;
            kept++;
            Assert.Equal(plain[i] / (1 - p), dropped[i], 1e-5f * (1 + Math.Abs(dropped[i])));   // kept ones are scaled by 1/(1 − p)
        }
        // 65,536 Bernoulli(0.75) draws: the kept fraction is within 5 standard deviations (0.0085) of 0.75.
        double rate = (double)kept / n, sd = Math.Sqrt(p * (1 - p) / n);
        Assert.True(Math.Abs(rate - (1 - p)) < 5 * sd, $"kept {rate:F4} of the probabilities, expected {1 - p} ± {5 * sd:F4}");
        // Another seed draws another mask.
        var other = Ops.Attention(q, k, v, causal: false, dropout: p, dropoutSeed: 6).ToArray();
        Assert.NotEqual(dropped, other);
    }

    [Fact]
    public void Attention_query_that_sees_no_key_gets_zero()
    {
        using var q = GradCheck.Random(29, 1, 1, 2, 4);
        using var k = GradCheck.Random(30, 1, 1, 2, 4);
        using var v = GradCheck.Random(31, 1, 1, 2, 4);
        var y = Ops.Attention(q, k, v, causal: false, keyLengths: [0]).ToArray();
        Assert.All(y, value => Assert.Equal(0f, value));
    }
}
