using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The block-wise attention against its scalar twin (full score matrix, double sums) over shapes that
/// cross block edges, grouped-query heads, every mask and both bias layouts; and across thread counts.</summary>
public unsafe class FlashAttentionTests
{
    static float[] Rand(long n, int seed) => TestData.Uniform(n, seed);

    public static TheoryData<int, int, int, int, int, int, bool, int, int, bool> Cases => new()
    {
        // B, H, Hkv, T, S, D, causal, window, bias (0 none, 1 shared, 2 per batch), padded
        { 1, 1, 1, 1, 1, 1, false, 0, 0, false },
        { 2, 2, 1, 3, 5, 3, true, 0, 1, false },
        { 1, 4, 2, 17, 17, 16, true, 0, 0, true },
        { 2, 2, 2, 64, 64, 64, true, 0, 2, false },
        { 1, 4, 1, 129, 129, 32, true, 40, 0, false },
        { 2, 2, 2, 65, 130, 8, false, 0, 1, true },
        { 1, 2, 2, 3, 129, 16, true, 0, 0, false },     // decoding-like: few queries over a long cache
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_scalar_twin(int B, int H, int Hkv, int T, int S, int D, bool causal, int window, int biasKind, bool padded)
        => CompareWithTwin(B, H, Hkv, T, S, D, causal, window, biasKind, padded, 0f);

    // The shapes above that cross block edges, with dropout on the probabilities (rate 0.1 and 0.5):
    // B, H, Hkv, T, S, D, causal, window, bias kind, padded, dropout. The last has no bias: the stored-dS backward.
    public static IEnumerable<object[]> DropoutCases() =>
    [
        [2, 2, 1, 3, 5, 3, true, 0, 1, false, 0.5f],
        [1, 4, 2, 17, 17, 16, true, 0, 0, true, 0.1f],
        [2, 2, 2, 64, 64, 64, true, 0, 2, false, 0.1f],
        [1, 4, 1, 129, 129, 32, true, 40, 0, false, 0.5f],
        [2, 2, 2, 65, 130, 8, false, 0, 1, true, 0.1f],
        [2, 2, 2, 80, 80, 16, true, 0, 0, false, 0.5f],
    ];

    [Theory]
    [MemberData(nameof(DropoutCases))]
    public void Matches_the_scalar_twin_with_dropout(int B, int H, int Hkv, int T, int S, int D, bool causal, int window, int biasKind, bool padded, float dropout)
        => CompareWithTwin(B, H, Hkv, T, S, D, causal, window, biasKind, padded, dropout);

    // One block of queries and keys: the forward keeps P (AttentionProblem.SavedP) and the backward reads it instead
    // of recomputing Q·Kᵀ and its exps. Every mask, both bias layouts, grouped heads, a window, padded rows.
    public static TheoryData<int, int, int, int, int, int, bool, int, int, bool> OneBlockCases => new()
    {
        { 1, 1, 1, 1, 1, 1, false, 0, 0, false },
        { 2, 2, 1, 3, 5, 3, true, 0, 1, false },
        { 1, 4, 2, 17, 17, 16, true, 0, 0, true },
        { 2, 2, 2, 64, 64, 64, true, 0, 2, false },
        { 2, 3, 3, 50, 50, 64, false, 0, 0, false },    // the ViT bench's shape, batch 2
        { 2, 2, 1, 40, 33, 8, true, 7, 1, true },
    };

    [Theory]
    [MemberData(nameof(OneBlockCases))]
    public void Keeping_P_for_the_backward_matches_the_scalar_twin(int B, int H, int Hkv, int T, int S, int D, bool causal, int window, int biasKind, bool padded)
        => CompareWithTwin(B, H, Hkv, T, S, D, causal, window, biasKind, padded, 0f, keepP: true);

    static void CompareWithTwin(int B, int H, int Hkv, int T, int S, int D, bool causal, int window, int biasKind, bool padded, float dropout, bool keepP = false)
    {
        const ulong seed = 0x5eed;
        var q = Rand((long)B * H * T * D, 1); var k = Rand((long)B * Hkv * S * D, 2); var v = Rand((long)B * Hkv * S * D, 3);
        var dO = Rand((long)B * H * T * D, 4);
        float[]? bias = biasKind == 0 ? null : Rand((biasKind == 2 ? B : 1) * (long)H * T * S, 5);
        int[] lengths = padded ? Enumerable.Range(0, B).Select(b => b == 0 ? S : Math.Max(0, S / 2 - b)).ToArray() : [];
        float scale = 1f / MathF.Sqrt(D);
        float[] o1 = new float[q.Length], o2 = new float[q.Length], p = new float[(long)B * H * T * S], lse = new float[B * H * T], delta = new float[B * H * T];
        float[] dq1 = new float[q.Length], dq2 = new float[q.Length], dk1 = new float[k.Length], dk2 = new float[k.Length];
        float[] dv1 = new float[v.Length], dv2 = new float[v.Length];
        float[] db1 = bias is null ? [0] : new float[bias.Length], db2 = bias is null ? [0] : new float[bias.Length];
        float[]? kept = null;
        fixed (float* pq = q, pk = k, pv = v, pdo = dO, pb = bias, po1 = o1, po2 = o2, pp = p, pl = lse, pd = delta,
               pdq1 = dq1, pdq2 = dq2, pdk1 = dk1, pdk2 = dk2, pdv1 = dv1, pdv2 = dv2, pdb1 = db1, pdb2 = db2)
        fixed (int* plen = lengths)
        {
            AttentionReference.Forward(pq, pk, pv, pb, biasKind == 2, lengths, pp, po1, B, H, Hkv, T, S, D, scale, causal, window, dropout, seed);
            AttentionReference.Backward(pq, pk, pv, pp, pdo, pdq1, pdk1, pdv1, bias is null ? null : pdb1, biasKind == 2, B, H, Hkv, T, S, D, scale, dropout, seed);
            var problem = new AttentionProblem
            {
                Q = pq, K = pk, V = pv, O = po2, L = pl, Bias = pb, KeyLengths = padded ? plen : null,
                B = B, H = H, Hkv = Hkv, T = T, S = S, D = D, Scale = scale, Causal = causal, BiasPerBatch = biasKind == 2, Window = window,
                Dropout = dropout, DropoutSeed = seed,
            };
            kept = keepP ? new float[(long)B * H * T * S] : null;
            fixed (float* pkept = kept)
            {
                Assert.Equal(keepP, keepP && FlashAttention.CanSaveProbabilities(T, S, dropout));
                problem.SavedP = pkept;
                FlashAttention.Forward(ref problem);
                FlashAttention.Backward(ref problem, pdo, pdq2, pdk2, pdv2, bias is null ? null : pdb2, pd);
            }
        }
        // Float32 block sums against double: a few ulps of the O(1) outputs, more for gradients summed over S keys.
        Close(o1, o2, 2e-5f, "O");
        Close(dq1, dq2, 1e-4f, "dQ");
        Close(dk1, dk2, 1e-4f, "dK");
        Close(dv1, dv2, 1e-4f, "dV");
        Close(db1, db2, 1e-4f, "dBias");
        if (kept is not null) Close(p, kept, 2e-5f, "kept P");
    }

    static void Close(float[] e, float[] a, float tol, string what)
    {
        for (int i = 0; i < e.Length; i++)
        {
            Assert.False(float.IsNaN(a[i]), $"{what}[{i}] is NaN");
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"{what}[{i}] = {a[i]}, twin {e[i]}");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.2f)]
    public void Thread_count_does_not_change_a_bit(float dropout)
    {
        float[] Run(int threads)
        {
            using var pool = new ComputePool(threads);
            {
                int B = 2, H = 4, Hkv = 2, T = 130, S = 130, D = 32;
                var q = Rand((long)B * H * T * D, 11); var k = Rand((long)B * Hkv * S * D, 12); var v = Rand((long)B * Hkv * S * D, 13);
                var dO = Rand(q.Length, 14);
                float[] o = new float[q.Length], lse = new float[B * H * T], delta = new float[B * H * T], dq = new float[q.Length], dk = new float[k.Length];
                fixed (float* pq = q, pk = k, pv = v, pdo = dO, po = o, pl = lse, pd = delta, pdq = dq, pdk = dk)
                {
                    var problem = new AttentionProblem { Q = pq, K = pk, V = pv, O = po, L = pl, B = B, H = H, Hkv = Hkv, T = T, S = S, D = D, Scale = 0.2f, Causal = true, Dropout = dropout, DropoutSeed = 9 };
                    FlashAttention.Forward(ref problem, pool);
                    FlashAttention.Backward(ref problem, pdo, pdq, pdk, null, null, pd, pool);
                }
                return [.. o, .. dq, .. dk];
            }
        }
        Assert.Equal(Run(1), Run(2));
    }
}
