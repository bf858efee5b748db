using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>Attention-logit soft-capping (Gemma 2: score ← c·tanh(score / c) after scaling, before the mask) on the
/// full-sequence path, <see cref="Ops.AttentionTokenMajor"/> → <see cref="FlashAttention"/>, against the scalar twin
/// <see cref="AttentionReference"/> (tanh in double); with a sliding window, a scale other than 1/√D, grouped kv heads
/// and T past one 64-query block. The cap is inference only: under a recording tape with gradients it is an error.</summary>
public unsafe class SoftCapAttentionTests
{
    [Theory]
    [InlineData(1, 70, 4, 2, 8, 0, 0.7f, null)]
    [InlineData(2, 33, 4, 4, 16, 5, 0.7f, 0.125f)]
    [InlineData(1, 130, 2, 1, 8, 64, 2f, 0.3f)]
    [InlineData(1, 20, 2, 2, 8, 4, 0f, 0.3f)]      // window and scale without a cap
    public void Token_major_soft_capped_attention_matches_the_reference(int B, int T, int H, int Hkv, int D, int window, float cap, float? scale)
    {
        var q = TestData.Uniform((long)B * T * H * D, 1, -3, 3);
        var k = TestData.Uniform((long)B * T * Hkv * D, 2, -3, 3);
        var v = TestData.Uniform((long)B * T * Hkv * D, 3);
        float[] got;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            using var tq = Tensor.FromArray(q, B, T, H * D);
            using var tk = Tensor.FromArray(k, B, T, Hkv * D);
            using var tv = Tensor.FromArray(v, B, T, Hkv * D);
            got = Ops.AttentionTokenMajor(tq, tk, tv, H, Hkv, causal: true, window: window, scale: scale, softCap: cap).ToArray();
        }
        // The twin on split heads (B,H,T,D).
        float[] Heads(float[] x, int n)
        {
            var r = new float[x.Length];
            for (int b = 0; b < B; b++)
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < n; h++) Array.Copy(x, ((long)(b * T + t) * n + h) * D, r, ((long)(b * n + h) * T + t) * D, D);
            return r;
        }
        var o = new float[q.Length];
        var p = new float[(long)B * H * T * T];
        fixed (float* pq = Heads(q, H), pk = Heads(k, Hkv), pv = Heads(v, Hkv), po = o, pp = p)
            AttentionReference.Forward(pq, pk, pv, null, false, default, pp, po, B, H, Hkv, T, T, D, scale ?? 1f / MathF.Sqrt(D), causal: true,
                window: window, softCap: cap);
        double worst = 0;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++)
                    for (int d = 0; d < D; d++)
                    {
                        float expected = o[((long)(b * H + h) * T + t) * D + d], actual = got[((long)(b * T + t) * H + h) * D + d];
                        worst = Math.Max(worst, Math.Abs(expected - actual) / (1 + Math.Abs(expected)));
                    }
        Assert.True(worst <= 1e-5, $"max relative difference {worst}");
    }

    /// <summary>A cap that bites changes the output, so the comparison above cannot pass on a no-op.</summary>
    [Fact]
    public void A_biting_cap_changes_the_output()
    {
        const int T = 12, H = 2, D = 8;
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        using var q = Tensor.FromArray(TestData.Uniform(T * H * D, 4, -3, 3), 1, T, H * D);
        using var k = Tensor.FromArray(TestData.Uniform(T * H * D, 5, -3, 3), 1, T, H * D);
        using var v = Tensor.FromArray(TestData.Uniform(T * H * D, 6), 1, T, H * D);
        float[] plain = Ops.AttentionTokenMajor(q, k, v, H, H, true).ToArray(), capped = Ops.AttentionTokenMajor(q, k, v, H, H, true, softCap: 0.5f).ToArray();
        Assert.True(plain.Zip(capped).Max(x => Math.Abs(x.First - x.Second)) > 1e-2);
    }

    [Fact]
    public void Soft_cap_under_a_recording_tape_is_a_clear_error()
    {
        using var q = Tensor.FromArray(TestData.Uniform(16, 1), 1, 2, 8);
        q.RequiresGrad = true;
        using var tape = new Tape();
        using var active = tape.Activate();
        var e = Assert.Throws<NotSupportedException>(() => Ops.AttentionTokenMajor(q, q, q, 1, 1, true, softCap: 30f));
        Assert.Contains("inference only", e.Message);
        Assert.Throws<ArgumentException>(() => Ops.AttentionTokenMajor(q, q, q, 1, 1, true, softCap: -1f));
    }
}
