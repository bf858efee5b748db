using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>Attention over packed rows (several sequences back to back, each query seeing keys only from its own
/// sequence's start): the block-wise kernel against its scalar twin, which masks the full score matrix and sums in
/// double — forward and all three gradients, through both backward query passes (dS kept from the key pass, and
/// recomputed). Segments of one token (a query that sees only itself), segments crossing the 64-key block edges and
/// rows whose segments make whole block pairs invisible.</summary>
public unsafe class SegmentAttentionTests
{
    /// <summary>Segment starts (B·T) for rows cut into sequences of the given lengths, row after row; the last
    /// sequence of a row runs to its end.</summary>
    internal static int[] Starts(int B, int T, params int[][] lengths)
    {
        var starts = new int[B * T];
        for (int b = 0; b < B; b++)
        {
            int start = 0, next = 0, i = 0;
            for (int t = 0; t < T; t++)
            {
                if (t == next) { start = t; next = i < lengths[b].Length ? t + lengths[b][i++] : T; }
                starts[b * T + t] = start;
            }
        }
        return starts;
    }

    public static IEnumerable<object[]> Cases() =>
    [
        // B, H, Hkv, T, D, dropout, segment lengths per row
        [2, 4, 2, 150, 16, 0f, new[] { new[] { 1, 37, 64, 2, 9 }, new[] { 100, 50 } }],      // GQA; edges at 38, 102 cross blocks
        [1, 2, 2, 70, 8, 0f, new[] { new[] { 3, 1, 1, 65 } }],                                // H = Hkv, a block-straddling tail
        [2, 2, 1, 200, 8, 0f, new[] { new[] { 64, 64, 64 }, new[] { 1, 1, 130, 68 } }],     // multi-query, starts on block edges
        [1, 4, 4, 129, 32, 0.2f, new[] { new[] { 10, 90, 29 } }],                             // with attention dropout
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_scalar_twin_forward_and_gradients(int B, int H, int Hkv, int T, int D, float dropout, int[][] lengths)
    {
        const ulong seed = 0xfeed;
        int S = T;
        var starts = Starts(B, T, lengths);
        var q = TestData.Uniform((long)B * H * T * D, 1); var k = TestData.Uniform((long)B * Hkv * S * D, 2);
        var v = TestData.Uniform((long)B * Hkv * S * D, 3); var dO = TestData.Uniform((long)B * H * T * D, 4);
        float scale = 1f / MathF.Sqrt(D);
        float[] o1 = new float[q.Length], o2 = new float[q.Length], p = new float[(long)B * H * T * S], lse = new float[B * H * T], delta = new float[B * H * T];
        float[] dq1 = new float[q.Length], dk1 = new float[k.Length], dv1 = new float[v.Length];
        float[] dq2 = new float[q.Length], dk2 = new float[k.Length], dv2 = new float[v.Length];
        float[] dq3 = new float[q.Length], dk3 = new float[k.Length], dv3 = new float[v.Length];
        fixed (float* pq = q, pk = k, pv = v, pdo = dO, po1 = o1, po2 = o2, pp = p, pl = lse, pd = delta)
        fixed (float* pdq1 = dq1, pdk1 = dk1, pdv1 = dv1, pdq2 = dq2, pdk2 = dk2, pdv2 = dv2, pdq3 = dq3, pdk3 = dk3, pdv3 = dv3)
        fixed (int* ps = starts)
        {
            AttentionReference.Forward(pq, pk, pv, null, false, [], pp, po1, B, H, Hkv, T, S, D, scale, causal: true, window: 0, dropout, seed, starts);
            AttentionReference.Backward(pq, pk, pv, pp, pdo, pdq1, pdk1, pdv1, null, false, B, H, Hkv, T, S, D, scale, dropout, seed);
            var problem = new AttentionProblem
            {
                Q = pq, K = pk, V = pv, O = po2, L = pl, SegmentStarts = ps,
                B = B, H = H, Hkv = Hkv, T = T, S = S, D = D, Scale = scale, Causal = true, Dropout = dropout, DropoutSeed = seed,
            };
            FlashAttention.Forward(ref problem);
            // All three at once: the query pass reads the key pass's dS blocks.
            FlashAttention.Backward(ref problem, pdo, pdq2, pdk2, pdv2, null, pd);
            // Separately: the query pass recomputes its score blocks.
            FlashAttention.Backward(ref problem, pdo, pdq3, null, null, null, pd);
            FlashAttention.Backward(ref problem, pdo, null, pdk3, pdv3, null, pd);
        }
        // Float32 block sums against double sums (the tolerances of FlashAttentionTests).
        Close(o1, o2, 2e-5f, "O");
        Close(dq1, dq2, 1e-4f, "dQ");
        Close(dk1, dk2, 1e-4f, "dK");
        Close(dv1, dv2, 1e-4f, "dV");
        Assert.Equal(dq2, dq3);   // the stored and recomputed dS give the same products in the same order
        Assert.Equal(dk2, dk3);
        Assert.Equal(dv2, dv3);
        Assert.Contains(dk2, x => x != 0f);
    }

    [Fact]
    public void A_query_alone_in_its_segment_returns_its_own_value_and_keys_of_other_segments_get_no_gradient()
    {
        // Row of 80: segments [0, 70), [70, 71), [71, 80). Query 70 sees only key 70: softmax of one score is 1.
        int H = 2, T = 80, D = 8;
        var starts = Starts(1, T, [70, 1, 9]);
        var q = TestData.Uniform(H * T * D, 5); var k = TestData.Uniform(H * T * D, 6); var v = TestData.Uniform(H * T * D, 7);
        var dO = new float[H * T * D];
        for (int h = 0; h < H; h++)
            for (int d = 0; d < D; d++) dO[(h * T + 70) * D + d] = 1f;   // only query 70's output is judged
        float[] o = new float[q.Length], lse = new float[H * T], delta = new float[H * T], dq = new float[q.Length], dk = new float[k.Length], dv = new float[v.Length];
        fixed (float* pq = q, pk = k, pv = v, pdo = dO, po = o, pl = lse, pd = delta, pdq = dq, pdk = dk, pdv = dv)
        fixed (int* ps = starts)
        {
            var problem = new AttentionProblem
            {
                Q = pq, K = pk, V = pv, O = po, L = pl, SegmentStarts = ps,
                B = 1, H = H, Hkv = H, T = T, S = T, D = D, Scale = 0.3f, Causal = true,
            };
            FlashAttention.Forward(ref problem);
            FlashAttention.Backward(ref problem, pdo, pdq, pdk, pdv, null, pd);
        }
        for (int h = 0; h < H; h++)
        {
            for (int d = 0; d < D; d++) Assert.Equal(v[(h * T + 70) * D + d], o[(h * T + 70) * D + d]);
            for (int s = 0; s < T; s++)
                for (int d = 0; d < D; d++)
                {
                    int i = (h * T + s) * D + d;
                    // A softmax over one key has no score gradient: exactly 0 off the segment; on it dP − Δ, two float sums
                    // of the same D products in different orders (GEMM and dot), cancel to rounding.
                    if (s == 70) Assert.True(Math.Abs(dk[i]) <= 1e-6f, $"dK[{i}] = {dk[i]}");
                    else Assert.Equal(0f, dk[i]);
                    if (s == 70) Assert.True(Math.Abs(dv[i] - 1f) <= 1e-6f, $"dV[{i}] = {dv[i]}");   // P = exp(S − L) = 1 up to rounding
                    else Assert.Equal(0f, dv[i]);
                }
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++)
                {
                    float g = dq[(h * T + t) * D + d];
                    if (t == 70) Assert.True(Math.Abs(g) <= 1e-6f, $"dQ[{t}] = {g}");
                    else Assert.Equal(0f, g);
                }
        }
    }

    static void Close(float[] e, float[] a, float tol, string what)
    {
        for (int i = 0; i < e.Length; i++)
        {
            Assert.False(float.IsNaN(a[i]), $"{what}[{i}] is NaN");
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}[{i}] = {a[i]}, twin {e[i]}");
        }
    }
}
