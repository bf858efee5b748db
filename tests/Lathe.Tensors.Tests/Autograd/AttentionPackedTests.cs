using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Ops.AttentionPacked against its definition: split the fused projection into (B,H,T,D) heads, run
/// Ops.Attention (itself checked against PyTorch and by finite differences), merge the heads back. Same kernel,
/// same arithmetic, so the output and the gradient of the projection must agree bit for bit — with grouped kv
/// heads, a ragged last block, no mask, a window and dropout.</summary>
public class AttentionPackedTests
{
    static float[] Random(int n, int seed)
    {
        var r = new System.Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    // (output, dL/dqkv) for L = Σ y ∘ w.
    static (float[] Y, float[] Grad) Run(bool packed, int B, int T, int H, int Hkv, int D, bool causal, int window, float dropout)
    {
        int width = (H + 2 * Hkv) * D;
        var qkv = Tensor.FromArray(Random(B * T * width, 1), B, T, width);
        qkv.RequiresGrad = true;
        var w = Tensor.FromArray(Random(B * T * H * D, 2), B, T, H * D);
        using var tape = new Tape();
        float[] y;
        using (tape.Activate())
        {
            Tensor o;
            if (packed) o = Ops.AttentionPacked(qkv, H, Hkv, causal, window, dropout, dropoutSeed: 77);
            else
            {
                Span<Tensor> parts = new Tensor[3];
                Ops.Split(qkv, 2, [H * D, Hkv * D, Hkv * D], parts);
                Tensor Heads(Tensor x, int n) => Ops.Contiguous(Ops.Transpose(Ops.Reshape(Ops.Contiguous(x), B, T, n, D), 1, 2));
                var heads = Ops.Attention(Heads(parts[0], H), Heads(parts[1], Hkv), Heads(parts[2], Hkv), causal,
                    window: window, dropout: dropout, dropoutSeed: 77);
                o = Ops.Reshape(Ops.Contiguous(Ops.Transpose(heads, 1, 2)), B, T, H * D);
            }
            y = o.ToArray();
            tape.Backward(Ops.SumAll(Ops.Mul(o, w)));
        }
        return (y, qkv.Grad!.ToArray());
    }

    [Theory]
    [InlineData(2, 70, 4, 4, 8, true, 0, 0f)]      // ragged last block of 64
    [InlineData(2, 70, 4, 2, 8, true, 0, 0f)]      // grouped kv heads
    [InlineData(1, 33, 2, 1, 16, false, 0, 0f)]    // no mask, multi-query
    [InlineData(2, 90, 2, 2, 8, true, 20, 0f)]     // sliding window
    [InlineData(2, 70, 4, 2, 8, true, 0, 0.25f)]   // attention dropout
    public void Equals_split_heads_attention_and_merge_bit_for_bit(int B, int T, int H, int Hkv, int D, bool causal, int window, float dropout)
    {
        var (y0, g0) = Run(packed: false, B, T, H, Hkv, D, causal, window, dropout);
        var (y1, g1) = Run(packed: true, B, T, H, Hkv, D, causal, window, dropout);
        Assert.Equal(y0, y1);
        Assert.Equal(g0, g1);
        Assert.Contains(g1, v => v != 0f);
    }

    [Fact]
    public void Bad_shapes_and_head_counts_name_the_problem()
    {
        var qkv = Tensor.FromArray(new float[2 * 3 * 24], 2, 3, 24);
        Assert.Contains("(heads + 2·kv heads)·D", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 5, 5, true)).Message);
        Assert.Contains("multiple of kv heads", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 3, 2, true)).Message);
        Assert.Contains("dropout", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 2, 2, true, dropout: 1f)).Message);
    }
}
