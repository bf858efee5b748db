using Lathe.Tensors.Autograd;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>The token-major attention ops and rotary positions over packed rows (segment starts, per-token positions)
/// against their meaning: every sequence cut out of its row and run alone — one batch row of its own length, no
/// segments, positions from 0 — then put back. Outputs and the gradients of the projections must agree.</summary>
public class PackedRowsOpsTests
{
    static float[] Random(int n, int seed) => TestData.Uniform(n, seed);

    // (row, start, length) of every sequence of rows cut as given.
    static List<(int Row, int Start, int Length)> Sequences(int T, int[][] lengths)
    {
        var list = new List<(int, int, int)>();
        for (int b = 0; b < lengths.Length; b++)
        {
            int start = 0;
            foreach (int n in lengths[b]) { list.Add((b, start, n)); start += n; }
            if (start < T) list.Add((b, start, T - start));
        }
        return list;
    }

    // (output, dL/dqkv) for L = Σ y ∘ w of one call over (B,T,width) input; the function gets the B·T segment starts
    // and positions (empty when run alone).
    delegate Tensor Op(Tensor qkv, int[] starts, int[] positions);

    static (float[] Y, float[] Grad) Run(Op op, float[] input, float[] weights, int B, int T, int width, int outWidth, int[] starts, int[] positions)
    {
        var x = Tensor.FromArray(input, B, T, width);
        x.RequiresGrad = true;
        using var tape = new Tape();
        float[] y;
        using (tape.Activate())
        {
            var o = op(x, starts, positions);
            y = o.ToArray();
            tape.Backward(Ops.SumAll(Ops.Mul(o, Tensor.FromArray(weights, B, T, outWidth))));
        }
        return (y, x.Grad!.ToArray());
    }

    // Runs op once over the packed rows and once per sequence alone; compares the pieces.
    static void PackedEqualsAlone(Op op, int B, int T, int width, int outWidth, int[][] lengths, float tolerance)
    {
        var starts = SegmentAttentionTests.Starts(B, T, lengths);
        var positions = new int[B * T];
        for (int i = 0; i < B * T; i++) positions[i] = i % T - starts[i];
        var input = Random(B * T * width, 1);
        var weights = Random(B * T * outWidth, 2);
        var (y, g) = Run(op, input, weights, B, T, width, outWidth, starts, positions);
        Assert.Contains(g, v => v != 0f);
        foreach (var (row, start, n) in Sequences(T, lengths))
        {
            long at = ((long)row * T + start);
            var (y1, g1) = Run(op, input.AsSpan((int)(at * width), n * width).ToArray(), weights.AsSpan((int)(at * outWidth), n * outWidth).ToArray(),
                1, n, width, outWidth, [], []);
            Close(y1, y.AsSpan((int)(at * outWidth), n * outWidth), tolerance, $"output of row {row} [{start}, {start + n})");
            Close(g1, g.AsSpan((int)(at * width), n * width), tolerance, $"gradient of row {row} [{start}, {start + n})");
        }
    }

    static void Close(float[] alone, ReadOnlySpan<float> packed, float tolerance, string what)
    {
        for (int i = 0; i < alone.Length; i++)
            Assert.True(Math.Abs(alone[i] - packed[i]) <= tolerance, $"{what}[{i}]: packed {packed[i]}, alone {alone[i]}");
    }

    static readonly int[][] Rows = [[1, 37, 64, 2, 9], [100, 50]];   // T = 150: edges inside and on 64-blocks, a 1-token sequence

    [Theory]
    [InlineData(4, 2, 8)]   // grouped kv heads
    [InlineData(2, 2, 16)]  // H = Hkv
    public void Packed_qkv_attention_equals_each_sequence_alone(int H, int Hkv, int D)
    {
        int width = (H + 2 * Hkv) * D;
        // Blocks summed in other groupings (64-key blocks start elsewhere in a sequence alone): a few ulps.
        PackedEqualsAlone((x, starts, _) => Ops.AttentionPacked(x, H, Hkv, causal: true, segmentStarts: starts), 2, 150, width, H * D, Rows, 2e-6f);
    }

    [Theory]
    [InlineData(4, 2, 8)]
    [InlineData(3, 3, 8)]
    public void Token_major_attention_with_rotary_positions_equals_each_sequence_alone(int H, int Hkv, int D)
    {
        int width = (H + 2 * Hkv) * D;
        var rope = RopeTables.Create(160, D, theta: 500);
        Tensor Op(Tensor x, int[] starts, int[] positions)
        {
            Span<Tensor> parts = new Tensor[3];
            Ops.Split(x, 2, [H * D, Hkv * D, Hkv * D], parts);
            Tensor q = parts[0], k = parts[1];
            if (positions.Length == 0) { q = Ops.RopeTokenMajor(q, rope); k = Ops.RopeTokenMajor(k, rope); }
            else { q = Ops.RopeTokenMajor(q, rope, positions); k = Ops.RopeTokenMajor(k, rope, positions); }
            return Ops.AttentionTokenMajor(q, k, parts[2], H, Hkv, causal: true, segmentStarts: starts);
        }
        PackedEqualsAlone(Op, 2, 150, width, H * D, Rows, 2e-6f);
    }

    [Fact]
    public void Rotary_at_per_token_positions_equals_each_sequence_from_position_zero_bit_for_bit()
    {
        int D = 20, heads = 3;
        var rope = RopeTables.Create(150, D, theta: 1000, scaling: 2);
        // Rotates the first two heads of three, as a fused q|k|v projection's rotation does.
        PackedEqualsAlone((x, _, positions) => positions.Length == 0 ? Ops.RopeTokenMajor(x, rope, rotatedHeads: 2)
            : Ops.RopeTokenMajor(x, rope, positions, rotatedHeads: 2), 2, 150, heads * D, heads * D, Rows, 0f);
    }

    [Fact]
    public void Null_segments_give_the_unpacked_result_bit_for_bit()
    {
        int B = 2, T = 70, H = 2, D = 8, width = 6 * D;
        var input = Random(B * T * width, 3);
        var weights = Random(B * T * H * D, 4);
        // One segment per row from 0 masks nothing beyond the causal mask: the same products as no segments.
        var whole = new int[B * T];
        var (y0, g0) = Run((x, _, _) => Ops.AttentionPacked(x, H, H, causal: true), input, weights, B, T, width, H * D, [], []);
        var (y1, g1) = Run((x, s, _) => Ops.AttentionPacked(x, H, H, causal: true, segmentStarts: s), input, weights, B, T, width, H * D, whole, []);
        Assert.Equal(y0, y1);
        Assert.Equal(g0, g1);
    }

    [Fact]
    public void Bad_segment_starts_and_positions_name_the_problem()
    {
        var qkv = Tensor.FromArray(new float[2 * 3 * 24], 2, 3, 24);
        Assert.Contains("5 segment starts for B·T = 2·3", Assert.Throws<ArgumentException>(() => Ops.AttentionPacked(qkv, 1, 1, true, segmentStarts: new int[5])).Message);
        Assert.Contains("segment start 2 of query 1 in row 0 must be in 0..1", Assert.Throws<ArgumentException>(
            () => Ops.AttentionPacked(qkv, 1, 1, true, segmentStarts: [0, 2, 0, 0, 0, 0])).Message);
        var q = Tensor.FromArray(new float[2 * 3 * 8], 2, 3, 8);
        Assert.Contains("segment start -1 of query 2 in row 1", Assert.Throws<ArgumentException>(
            () => Ops.AttentionTokenMajor(q, q, q, 2, 2, true, segmentStarts: [0, 0, 0, 0, 0, -1])).Message);
        Assert.Contains("4 positions for B·T = 2·3", Assert.Throws<ArgumentException>(() => Ops.RopeTokenMajor(q, RopeTables.Create(8, 4), new int[4])).Message);
        Assert.Contains("position 8 of token 5 exceeds the table of 8", Assert.Throws<ArgumentException>(
            () => Ops.RopeTokenMajor(q, RopeTables.Create(8, 4), [0, 1, 2, 0, 1, 8])).Message);
    }
}
