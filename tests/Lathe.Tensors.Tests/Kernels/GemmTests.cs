using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

public unsafe class GemmTests
{
    static float[] Random(int n, int seed) => TestData.Uniform(n, seed);

    /// <summary>Runs Multiply and the double-accumulating reference on the same inputs and compares them. A float32
    /// dot product of length k with FMA has error ≤ k·ε·Σ|a||b| (ε = 2⁻²⁴); we allow 2× that bound per element.</summary>
    static void Compare(bool transA, bool transB, int m, int n, int k, bool accumulate, int pad = 0, ComputePool? pool = null, int seed = 1)
    {
        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
        var a = Random((transA ? k : m) * lda + 1, seed);
        var b = Random((transB ? n : k) * ldb + 1, seed + 1);
        var c = Random(m * ldc + 1, seed + 2);
        var expected = (float[])c.Clone();
        fixed (float* pa = a, pb = b, pc = c, pe = expected)
        {
            Gemm.MultiplyReference(transA, transB, m, n, k, pa, lda, pb, ldb, pe, ldc, accumulate);
            Gemm.Multiply(transA, transB, m, n, k, pa, lda, pb, ldb, pc, ldc, accumulate, pool ?? ComputePool.Shared);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
            {
                int at = i * ldc + j;
                if (j >= n) { Assert.Equal(expected[at], c[at]); continue; }  // padding untouched
                double bound = 2 * (k + 2) * Math.Pow(2, -24) * (k + (accumulate ? 1 : 0)) + 1e-30;
                Assert.True(Math.Abs(expected[at] - c[at]) <= bound,
                    $"m={m} n={n} k={k} transA={transA} transB={transB} acc={accumulate}: C[{i},{j}] = {c[at]}, expected {expected[at]}");
            }
        Assert.Equal(expected[^1], c[^1]);
    }

    public static TheoryData<int, int, int> Shapes => new()
    {
        { 0, 5, 7 }, { 5, 0, 7 }, { 5, 7, 0 }, { 1, 1, 1 }, { 1, 129, 63 }, { 63, 1, 129 }, { 3, 17, 63 },
        { 17, 63, 3 }, { 63, 129, 17 }, { 129, 255, 257 }, { 257, 129, 300 }, { 13, 33, 513 }, { 300, 70, 40 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_the_reference_for_every_transpose(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                Compare(ta, tb, m, n, k, accumulate: false);
                Compare(ta, tb, m, n, k, accumulate: true, pad: 3);
            }
    }

    [Fact]
    public void Thread_count_does_not_change_a_bit()
    {
        foreach (var (m, n, k) in new[] { (200, 333, 300), (500, 64, 300), (610, 333, 600), (400, 700, 300) })   // by panels (row blocks under 4 micro-panels); by row blocks; by row blocks with edge tiles and two KC slices; by panels (short row blocks, wide B)
            SameBits(m, n, k);
    }

    [Fact]
    public void Reading_A_in_place_gives_the_packed_paths_bits()
    {
        // A not transposed and C at most Gemm.DirectAMaxColumns wide: the AVX-512 kernel reads A's rows where they lie
        // (only a short last panel is packed). Same products in the same order as the packed path: the same bits, for
        // row-block and panel splits, edge rows and columns, several KC slices, a padded lda and accumulation.
        using var one = new ComputePool(1);
        using var two = new ComputePool(2);
        foreach (var (m, n, k, pad) in new[] { (200, 333, 300, 0), (610, 192, 600, 5), (3200 / 16, 768, 192, 0), (37, 40, 700, 3) })
            foreach (bool transB in new[] { false, true })
                foreach (var pool in new[] { one, two })
                {
                    int lda = k + pad, ldb = transB ? k : n;
                    var a = Random(m * lda, 11);
                    var b = Random((transB ? n : k) * ldb, 12);
                    var direct = Random(m * n, 13);
                    var packed = (float[])direct.Clone();
                    int saved = Gemm.DirectAMaxColumns;
                    fixed (float* pa = a, pb = b, pd = direct, pp = packed)
                    {
                        Gemm.Multiply(false, transB, m, n, k, pa, lda, pb, ldb, pd, n, true, pool);
                        try
                        {
                            Gemm.DirectAMaxColumns = 0;
                            Gemm.Multiply(false, transB, m, n, k, pa, lda, pb, ldb, pp, n, true, pool);
                        }
                        finally { Gemm.DirectAMaxColumns = saved; }
                    }
                    Assert.Equal(packed, direct);
                }
        Compare(false, true, 40, 800, 50, accumulate: false);   // wider than the in-place limit: the packed path
    }

    static void SameBits(int m, int n, int k)
    {
        using var one = new ComputePool(1);
        using var two = new ComputePool(2);
        var a = Random(m * k, 7);
        var b = Random(k * n, 8);
        var c1 = new float[m * n];
        var c2 = new float[m * n];
        fixed (float* pa = a, pb = b, p1 = c1, p2 = c2)
        {
            Gemm.Multiply(false, true, m, n, k, pa, k, pb, k, p1, n, false, one);
            Gemm.Multiply(false, true, m, n, k, pa, k, pb, k, p2, n, false, two);
        }
        Assert.Equal(c1, c2);
    }

    [Fact]
    public void Batched_with_a_broadcast_operand()
    {
        int batch = 3, m = 20, n = 40, k = 100;
        var a = Random(batch * m * k, 9);
        var b = Random(k * n, 10);
        var c = new float[batch * m * n];
        var e = new float[batch * m * n];
        fixed (float* pa = a, pb = b, pc = c, pe = e)
        {
            Gemm.MultiplyBatched(false, false, m, n, k, pa, k, m * k, pb, n, 0, pc, n, m * n, batch);
            for (int i = 0; i < batch; i++)
                Gemm.MultiplyReference(false, false, m, n, k, pa + i * m * k, k, pb, n, pe + i * m * n, n);
        }
        for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - e[i]) < 1e-4, $"element {i}: {c[i]} vs {e[i]}");
    }

    [Fact]
    public void Bad_arguments_name_the_problem()
    {
        var x = new float[16];
        nint p;
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(x, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            p = handle.AddrOfPinnedObject();
            var e = Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, 2, 2, 2, (float*)p, 1, (float*)p, 2, (float*)p, 2));
            Assert.Contains("lda=1", e.Message);
            Assert.Throws<ArgumentException>(() => Gemm.Multiply(false, false, -1, 2, 2, (float*)p, 2, (float*)p, 2, (float*)p, 2));
        }
        finally { handle.Free(); }
    }
}
