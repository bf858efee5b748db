using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The few-rows GEMM (A·Bᵀ with B a weight stored (n, k), m ≤ <see cref="GemmFewRows.MaxRows"/>) against the
/// double-accumulating reference, and its batch invariance: a row of C has the same bits whatever other rows share the
/// call and whatever the thread count.</summary>
public unsafe class GemmFewRowsTests
{
    // Through the public entry point, so the dispatch is tested too; pads every leading dimension by `pad`.
    static float[] Run(float[] a, float[] b, int m, int n, int k, int pad, bool accumulate, float[]? c0, ComputePool pool)
    {
        int ldc = n + pad;
        var c = c0 is null ? new float[m * ldc] : (float[])c0.Clone();
        fixed (float* pa = a, pb = b, pc = c)
            Gemm.Multiply(false, true, m, n, k, pa, k + pad, pb, k + pad, pc, ldc, accumulate, pool);
        return c;
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 1, 1, 1 }, { 1, 4, 16 }, { 1, 7, 33 }, { 2, 5, 15 }, { 3, 9, 17 }, { 4, 4, 64 }, { 5, 3, 7 }, { 7, 13, 100 },
        { 8, 16, 8 }, { 13, 33, 513 }, { 16, 64, 512 }, { 17, 6, 31 }, { 64, 12, 48 }, { 65, 5, 129 }, { 128, 9, 40 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_the_reference(int m, int n, int k)
    {
        Assert.True(GemmFewRows.Applies(false, true, m, n, k) || !Fma.IsSupported);
        foreach (int pad in new[] { 0, 3 })
            foreach (bool accumulate in new[] { false, true })
            {
                var a = TestData.Uniform((long)m * (k + pad), 11);
                var b = TestData.Uniform((long)n * (k + pad), 12);
                var c0 = TestData.Uniform((long)m * (n + pad), 13);
                var c = Run(a, b, m, n, k, pad, accumulate, c0, ComputePool.Shared);
                var expected = (float[])c0.Clone();
                fixed (float* pa = a, pb = b, pe = expected)
                    Gemm.MultiplyReference(false, true, m, n, k, pa, k + pad, pb, k + pad, pe, n + pad, accumulate);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n + pad; j++)
                    {
                        int at = i * (n + pad) + j;
                        if (j >= n) { Assert.Equal(c0[at], c[at]); continue; }   // padding untouched
                        // |inputs| ≤ 1: a float dot product of length k errs by at most ~k·ε·k; 2× that, as GemmTests.
                        double bound = 2 * (k + 2) * Math.Pow(2, -24) * (k + (accumulate ? 1 : 0));
                        Assert.True(Math.Abs(expected[at] - c[at]) <= bound,
                            $"m={m} n={n} k={k} pad={pad} acc={accumulate}: C[{i},{j}] = {c[at]}, expected {expected[at]}");
                    }
            }
    }

    [Fact]
    public void A_row_has_the_same_bits_whatever_rows_share_the_call()
    {
        // Every element of row r computed in a call of m rows equals the one-row call for r: a sequence's logits do not
        // depend on the other sequences in its decoding step. n = 4·9 + 3 and k = 16·5 + 7 reach the strip, column and
        // k-tail paths; r covers tile rows and remainder rows.
        int n = 39, k = 87;
        var b = TestData.Uniform((long)n * k, 21);
        var all = TestData.Uniform(13L * k, 22);
        var alone = new float[13][];
        for (int r = 0; r < 13; r++)
            alone[r] = Run(all.AsSpan(r * k, k).ToArray(), b, 1, n, k, 0, false, null, ComputePool.Shared);
        foreach (int m in new[] { 2, 3, 4, 5, 8, 13 })
        {
            var c = Run(all.AsSpan(0, m * k).ToArray(), b, m, n, k, 0, false, null, ComputePool.Shared);
            for (int r = 0; r < m; r++) Assert.Equal(alone[r], c.AsSpan(r * n, n).ToArray());
        }
    }

    [Fact]
    public void Thread_count_does_not_change_a_bit()
    {
        using var one = new ComputePool(1);
        using var two = new ComputePool(2);
        foreach (var (m, n, k) in new[] { (1, 1000, 512), (16, 1408, 512), (64, 130, 1408), (5, 32003, 64) })
        {
            var a = TestData.Uniform((long)m * k, 31);
            var b = TestData.Uniform((long)n * k, 32);
            Assert.Equal(Run(a, b, m, n, k, 0, false, null, one), Run(a, b, m, n, k, 0, false, null, two));
        }
    }

    [Fact]
    public void The_reductions_sum_each_vector_alone()
    {
        // Reduce4's lanes: each sum is its own vector's, whatever the other three hold (the column path relies on it).
        var r = new Random(5);
        var v = new float[4][];
        for (int i = 0; i < 4; i++) { v[i] = new float[16]; for (int j = 0; j < 16; j++) v[i][j] = (float)(r.NextDouble() * 2 - 1); }
        if (Vector512.IsHardwareAccelerated && Avx512F.IsSupported)
        {
            var s = GemmFewRows.Reduce4(Vector512.Create(v[0]), Vector512.Create(v[1]),
                Vector512.Create(v[2]), Vector512.Create(v[3]));
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(v[i].Sum(), s.GetElement(i), 1e-5f);
                Assert.Equal(GemmFewRows.Reduce4(Vector512.Create(v[i]), default, default, default).ToScalar(), s.GetElement(i));
            }
        }
        if (Avx.IsSupported)
        {
            var s = GemmFewRows.Reduce4(Vector256.Create(v[0], 0), Vector256.Create(v[1], 0),
                Vector256.Create(v[2], 0), Vector256.Create(v[3], 0));
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal(v[i].Take(8).Sum(), s.GetElement(i), 1e-5f);
                Assert.Equal(GemmFewRows.Reduce4(Vector256.Create(v[i], 0), default, default, default).ToScalar(), s.GetElement(i));
            }
        }
    }
}
