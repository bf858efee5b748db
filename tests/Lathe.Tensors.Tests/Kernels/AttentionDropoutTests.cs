using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Tests.Autograd;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The attention dropout mask (its statistics and independence, its row fill against the per-element draw)
/// and Ops.Attention with dropout: gradients by finite differences with the tape recording, p = 0 bit-identical to no
/// dropout, bad rates refused, and the same bits for one and two threads in both backward layouts.</summary>
public unsafe class AttentionDropoutTests
{
    // The mask of (b, h, t, s) in a (B,H,T,S) problem: the kernel's row fill on a row of ones.
    static void MaskRow(ulong seed, float p, ulong index, int cols, float* z)
    {
        new Span<float>(z, cols).Fill(1f);
        FlashAttention.DropRow(seed, index, p, z, cols);
    }

    [Fact]
    public void Row_fill_equals_the_per_element_draw()
    {
        float* z = stackalloc float[64];
        foreach (int cols in new[] { 64, 37, 1 })
        {
            MaskRow(99, 0.3f, 1234, cols, z);
            for (int j = 0; j < cols; j++)
                Assert.Equal(ReferenceKernels.Uniform(99, 1234 + (ulong)j) >= 0.3f ? 1f / (1f - 0.3f) : 0f, z[j]);
        }
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0.5f)]
    public void Keep_rate_is_one_minus_p_and_neighbours_are_uncorrelated(float p)
    {
        // 2·3·64·256 = 98 304 draws: the kept count is Binomial(n, 1 − p); allow 5 standard deviations.
        int B = 2, H = 3, T = 64, S = 256;
        long n = (long)B * H * T * S, kept = 0;
        var keep = new bool[n];
        float* z = stackalloc float[64];
        long i = 0;
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++)
                    for (int s0 = 0; s0 < S; s0 += 64)
                    {
                        MaskRow(7, p, (ulong)((((long)b * H + h) * T + t) * S + s0), 64, z);
                        for (int j = 0; j < 64; j++, i++)
                        {
                            Assert.True(z[j] == 0f || z[j] == 1f / (1f - p));
                            keep[i] = z[j] != 0f;
                            if (keep[i]) kept++;
                        }
                    }
        double q = 1 - p, sd = Math.Sqrt(n * q * (1 - q));
        Assert.True(Math.Abs(kept - n * q) <= 5 * sd, $"kept {kept} of {n}, expected {n * q:F0} ± {5 * sd:F0}");
        // Correlation of neighbours along each axis (s, t, h, b): |r| ≤ 5/√pairs under independence.
        foreach (long stride in new long[] { 1, S, (long)T * S, (long)H * T * S })
        {
            long pairs = n - stride;
            double sx = 0, sy = 0, sxy = 0;
            for (long a = 0; a < pairs; a++)
            {
                double x = keep[a] ? 1 : 0, y = keep[a + stride] ? 1 : 0;
                sx += x; sy += y; sxy += x * y;
            }
            double mx = sx / pairs, my = sy / pairs, cov = sxy / pairs - mx * my;
            double r = cov / Math.Sqrt(mx * (1 - mx) * my * (1 - my));
            Assert.True(Math.Abs(r) <= 5 / Math.Sqrt(pairs), $"stride {stride}: correlation {r:G3}");
        }
    }

    [Fact]
    public void Different_seeds_give_different_masks()
    {
        int same = 0;
        for (ulong s = 0; s < 1000; s++) same += (ReferenceKernels.Uniform(1, s) >= 0.5f) == (ReferenceKernels.Uniform(2, s) >= 0.5f) ? 1 : 0;
        Assert.InRange(same, 400, 600);
    }

    [Theory]
    [InlineData(true, 1, false, 0, false)]
    [InlineData(false, 2, true, 0, true)]
    [InlineData(true, 2, true, 2, true)]
    public void Gradients_match_finite_differences(bool causal, int group, bool withBias, int window, bool padded)
    {
        // The mask is fixed by the seed, so the dropped attention is a smooth function of Q, K, V and bias. The loss is
        // evaluated with the tape recording (GradCheck's NoGrad would turn dropout off).
        int B = 2, Hkv = 2, H = Hkv * group, T = 3, S = 70, D = 4;
        int[] lengths = padded ? [70, 40] : [];
        var inputs = new List<Tensor> { GradCheck.Random(25, B, H, T, D), GradCheck.Random(26, B, Hkv, S, D), GradCheck.Random(27, B, Hkv, S, D) };
        if (withBias) inputs.Add(GradCheck.Random(28, H, T, S));
        Tensor F(List<Tensor> x) => Ops.Attention(x[0], x[1], x[2], causal, bias: withBias ? x[3] : null, keyLengths: lengths, window: window,
            dropout: 0.4f, dropoutSeed: 1234);
        foreach (var x in inputs) x.RequiresGrad = true;
        using var tape = new Tape();
        var rng = new Random(3);
        float[] w = new float[B * H * T * D];
        for (int i = 0; i < w.Length; i++) w[i] = (float)(rng.NextDouble() * 2 - 1);
        using (tape.Activate())
        {
            using var wt = Tensor.FromArray(w, [B, H, T, D]);
            tape.Backward(Ops.SumAll(Ops.Mul(F(inputs), wt)));
        }
        double Loss()
        {
            tape.Reset();
            using (tape.Activate())
            {
                var y = F(inputs).ToArray();
                double s = 0;
                for (int i = 0; i < y.Length; i++) s += (double)y[i] * w[i];
                return s;
            }
        }
        const double eps = 1e-2;
        for (int n = 0; n < inputs.Count; n++)
        {
            var analytic = inputs[n].Grad!.ToArray();
            var data = inputs[n].AsSpan();
            // Every element of Q and bias; a stride through K and V (70 keys) to keep the test short.
            int step = n is 1 or 2 ? 7 : 1;
            for (int i = 0; i < data.Length; i += step)
            {
                float saved = data[i];
                data[i] = saved + (float)eps; double plus = Loss();
                data[i] = saved - (float)eps; double minus = Loss();
                data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 5e-3 * (1 + Math.Abs(numeric)), $"input {n}[{i}]: analytic {analytic[i]:G6}, numeric {numeric:G6}");
            }
        }
        foreach (var x in inputs) x.Dispose();
    }

    static (float[] Y, float[] Dq, float[] Dk, float[] Dv) Run(float? dropout, bool record)
    {
        using var q = GradCheck.Random(41, 2, 4, 130, 16);
        using var k = GradCheck.Random(42, 2, 2, 130, 16);
        using var v = GradCheck.Random(43, 2, 2, 130, 16);
        foreach (var x in new[] { q, k, v }) x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        using (record ? (IDisposable?)null : Tape.NoGrad())
        {
            var y = dropout is { } p ? Ops.Attention(q, k, v, causal: true, dropout: p, dropoutSeed: 77) : Ops.Attention(q, k, v, causal: true);
            var values = y.ToArray();
            if (!record) return (values, [], [], []);
            using var w = GradCheck.Random(44, 2, 4, 130, 16);
            tape.Backward(Ops.SumAll(Ops.Mul(y, w)));
            return (values, q.Grad!.ToArray(), k.Grad!.ToArray(), v.Grad!.ToArray());
        }
    }

    [Fact]
    public void Zero_dropout_is_bit_identical_to_no_dropout_and_the_mask_ignores_the_tape()
    {
        var plain = Run(null, record: true);
        var p0 = Run(0, record: true);
        Assert.Equal(plain.Y, p0.Y);
        Assert.Equal(plain.Dq, p0.Dq);
        Assert.Equal(plain.Dk, p0.Dk);
        Assert.Equal(plain.Dv, p0.Dv);
        // Ops.Attention drops whenever given a rate (callers pass one only when training, as the models do); the mask
        // is a function of the seed alone, so a no-grad forward drops the same probabilities as a recorded one.
        var dropped = Run(0.5f, record: true).Y;
        Assert.NotEqual(plain.Y, dropped);
        Assert.Equal(dropped, Run(0.5f, record: false).Y);
    }

    [Fact]
    public void Thread_count_does_not_change_a_bit_with_dropout()
    {
        // Both backward layouts: dQ with dK, dV (the key pass keeps dS for the query pass) and dQ with dBias (recomputed).
        foreach (bool withBias in new[] { false, true })
            Assert.Equal(KernelRun(1, withBias), KernelRun(2, withBias));
    }

    static float[] KernelRun(int threads, bool withBias)
    {
        using var pool = new ComputePool(threads);
        int B = 2, H = 4, Hkv = 2, T = 130, S = 130, D = 32;
        var q = TestData.Uniform((long)B * H * T * D, 11); var k = TestData.Uniform((long)B * Hkv * S * D, 12);
        var v = TestData.Uniform((long)B * Hkv * S * D, 13); var dO = TestData.Uniform(q.Length, 14);
        var bias = TestData.Uniform((long)H * T * S, 15);
        float[] o = new float[q.Length], lse = new float[B * H * T], delta = new float[B * H * T], dq = new float[q.Length];
        float[] dk = new float[k.Length], dv = new float[v.Length], db = new float[bias.Length];
        fixed (float* pq = q, pk = k, pv = v, pdo = dO, pb = bias, po = o, pl = lse, pd = delta, pdq = dq, pdk = dk, pdv = dv, pdb = db)
        {
            var problem = new AttentionProblem
            {
                Q = pq, K = pk, V = pv, O = po, L = pl, Bias = withBias ? pb : null, B = B, H = H, Hkv = Hkv, T = T, S = S, D = D,
                Scale = 0.2f, Causal = true, Dropout = 0.3f, DropoutSeed = 0xDEADBEEFCAFEUL,
            };
            FlashAttention.Forward(ref problem, pool);
            FlashAttention.Backward(ref problem, pdo, pdq, withBias ? null : pdk, withBias ? null : pdv, withBias ? pdb : null, pd, pool);
        }
        return [.. o, .. dq, .. dk, .. dv, .. db];
    }

    [Fact]
    public void Bad_dropout_is_refused()
    {
        using var q = GradCheck.Random(1, 1, 1, 2, 4);
        Assert.Throws<ArgumentException>(() => Ops.Attention(q, q, q, true, dropout: 1f));
        Assert.Throws<ArgumentException>(() => Ops.Attention(q, q, q, true, dropout: -0.1f));
        Assert.Throws<ArgumentException>(() => Ops.Attention(q, q, q, true, dropout: float.NaN));
    }
}
