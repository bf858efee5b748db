using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Ops.AttentionPacked, Ops.AttentionTokenMajor and Ops.RopeTokenMajor against their definitions: split the
/// projections into (B,H,T,D) heads, rotate them with Ops.Rope and run Ops.Attention (each checked against PyTorch and
/// by finite differences), merge the heads back. Same kernels, same arithmetic, so the outputs and the gradients of the
/// projections must agree bit for bit — with grouped kv heads, a ragged last block, no mask, a window and dropout.</summary>
public class AttentionTokenMajorTests
{
    static float[] Random(int n, int seed)
    {
        var r = new System.Random(seed);
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(r.NextDouble() * 2 - 1);
        return a;
    }

    enum Path { SplitHeads, Packed, TokenMajor }

    // (output, dL/dqkv) for L = Σ y ∘ w. With a rope table, q and k are rotated first (from position 3).
    static (float[] Y, float[] Grad) Run(Path path, int B, int T, int H, int Hkv, int D, bool causal, int window, float dropout,
        RopeTables? rope = null)
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
            Span<Tensor> parts = new Tensor[3];
            Ops.Split(qkv, 2, [H * D, Hkv * D, Hkv * D], parts);
            if (path == Path.Packed)
                o = Ops.AttentionPacked(rope is null ? qkv : Ops.RopeTokenMajor(qkv, rope, 3, rotatedHeads: H + Hkv), H, Hkv, causal, window, dropout, dropoutSeed: 77);
            else if (path == Path.TokenMajor)
            {
                Tensor q = parts[0], k = parts[1];
                if (rope is not null) { q = Ops.RopeTokenMajor(q, rope, 3); k = Ops.RopeTokenMajor(k, rope, 3); }
                o = Ops.AttentionTokenMajor(q, k, parts[2], H, Hkv, causal, window, dropout, dropoutSeed: 77);
            }
            else
            {
                Tensor Heads(Tensor x, int n) => Ops.Contiguous(Ops.Transpose(Ops.Reshape(Ops.Contiguous(x), B, T, n, D), 1, 2));
                Tensor q = Heads(parts[0], H), k = Heads(parts[1], Hkv);
                if (rope is not null) { q = Ops.Rope(q, rope, 3); k = Ops.Rope(k, rope, 3); }
                var heads = Ops.Attention(q, k, Heads(parts[2], Hkv), causal, window: window, dropout: dropout, dropoutSeed: 77);
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
        var (y0, g0) = Run(Path.SplitHeads, B, T, H, Hkv, D, causal, window, dropout);
        foreach (var path in new[] { Path.Packed, Path.TokenMajor })
        {
            var (y1, g1) = Run(path, B, T, H, Hkv, D, causal, window, dropout);
            Assert.Equal(y0, y1);
            Assert.Equal(g0, g1);
        }
        Assert.Contains(g0, v => v != 0f);
    }

    [Theory]
    [InlineData(2, 70, 4, 2, 8)]
    [InlineData(1, 33, 2, 2, 16)]
    public void Rotary_positions_in_token_major_layout_equal_rotating_the_heads(int B, int T, int H, int Hkv, int D)
    {
        var rope = RopeTables.Create(T + 3, D, theta: 500);   // positions 3..T+2: an offset, as a cache continues
        var (y0, g0) = Run(Path.SplitHeads, B, T, H, Hkv, D, causal: true, 0, 0f, rope);
        foreach (var path in new[] { Path.Packed, Path.TokenMajor })
        {
            var (y1, g1) = Run(path, B, T, H, Hkv, D, causal: true, 0, 0f, rope);
            Assert.Equal(y0, y1);
            Assert.Equal(g0, g1);
        }
    }

    [Theory]
    [InlineData(32)]   // two 8-lane steps per half
    [InlineData(20)]   // one 8-lane step and a scalar tail of 2
    public void Rope_vector_lanes_equal_the_scalar_formula_forward_and_backward(int D)
    {
        // The rotation, written out in float as the scalar tail computes it: y1 = x1·c − x2·s, y2 = x2·c + x1·s,
        // and its transpose for the gradient of Σ y ∘ w.
        int B = 2, H = 3, T = 5, offset = 2, half = D / 2;
        var tables = RopeTables.Create(T + offset, D, theta: 1000, scaling: 1.5);
        var xs = Random(B * H * T * D, 5);
        var ws = Random(B * H * T * D, 6);
        var x = Tensor.FromArray(xs, B, H, T, D);
        x.RequiresGrad = true;
        using var tape = new Tape();
        float[] y;
        using (tape.Activate())
        {
            var r = Ops.Rope(x, tables, offset);
            y = r.ToArray();
            tape.Backward(Ops.SumAll(Ops.Mul(r, Tensor.FromArray(ws, B, H, T, D))));
        }
        var g = x.Grad!.ToArray();
        for (int row = 0; row < B * H * T; row++)
        {
            int t = row % T, o = row * D;
            for (int i = 0; i < half; i++)
            {
                float c = tables.Cos[(t + offset) * half + i], sn = tables.Sin[(t + offset) * half + i];
                Assert.Equal(xs[o + i] * c - xs[o + i + half] * sn, y[o + i]);
                Assert.Equal(xs[o + i + half] * c + xs[o + i] * sn, y[o + i + half]);
                Assert.Equal(ws[o + i] * c - ws[o + i + half] * -sn, g[o + i]);
                Assert.Equal(ws[o + i + half] * c + ws[o + i] * -sn, g[o + i + half]);
            }
        }
    }

    [Fact]
    public void Bad_shapes_and_head_counts_name_the_problem()
    {
        var qkv = Tensor.FromArray(new float[2 * 3 * 24], 2, 3, 24);
        Assert.Contains("(heads + 2·kv heads)·D", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 5, 5, true)).Message);
        Assert.Contains("multiple of kv heads", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 3, 2, true)).Message);
        Assert.Contains("dropout", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 2, 2, true, dropout: 1f)).Message);
        var q = Tensor.FromArray(new float[2 * 3 * 8], 2, 3, 8);
        var kv = Tensor.FromArray(new float[2 * 3 * 6], 2, 3, 6);
        Assert.Contains("two equal (B, T, 2·D)", Assert.Throws<ArgumentException>(() => Ops.AttentionTokenMajor(q, kv, kv, 4, 2, true)).Message);
        Assert.Contains("exceed the table", Assert.Throws<ArgumentException>(() => Ops.RopeTokenMajor(q, RopeTables.Create(2, 4))).Message);
        Assert.Contains("3 rotated heads of 2", Assert.Throws<ArgumentException>(() => Ops.RopeTokenMajor(q, RopeTables.Create(3, 4), rotatedHeads: 3)).Message);
    }
}
