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

    [Fact]
    public void The_whole_k_split_gives_the_slice_by_slice_bits()
    {
        // A long contraction into a small C (weight gradients) runs each task's block over all of k, reading a
        // transposed A and a plain B where they lie; the slice-by-slice packed path at one thread is the reference.
        // Shapes: edge rows and columns (short panels are packed), k not a multiple of KC, every transpose pair,
        // padded strides, a tall C (cut by rows) and a wide one (cut by columns), accumulation and a bias.
        using var one = new ComputePool(1);
        using var two = new ComputePool(2);
        using var three = new ComputePool(3);
        foreach (var (m, n, k, pad) in new[] { (192, 192, 3200, 0), (37, 70, 1000, 3), (100, 500, 800, 1), (500, 40, 900, 0), (13, 33, 2000, 2) })
            foreach (bool transA in new[] { true, false })
                foreach (bool transB in new[] { false, true })
                    foreach (bool accumulate in new[] { false, true })
                    {
                        int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad;
                        var a = Random((transA ? k : m) * lda, 31);
                        var b = Random((transB ? n : k) * ldb, 32);
                        var bias = Random(n, 33);
                        var reference = Random(m * n, 34);
                        fixed (float* pa = a, pb = b, pbias = bias)
                        {
                            var expected = (float[])reference.Clone();
                            fixed (float* pe = expected) Gemm.Multiply(transA, transB, m, n, k, pa, lda, pb, ldb, pe, n, accumulate, one, pbias);
                            foreach (var pool in new[] { two, three })
                            {
                                var got = (float[])reference.Clone();
                                fixed (float* pg = got) Gemm.Multiply(transA, transB, m, n, k, pa, lda, pb, ldb, pg, n, accumulate, pool, pbias);
                                Assert.True(expected.AsSpan().SequenceEqual(got), $"m={m} n={n} k={k} transA={transA} transB={transB} accumulate={accumulate} threads={pool.Threads}");
                            }
                        }
                    }
    }

    [Fact]
    public void A_column_bias_gives_the_bits_of_the_product_then_the_bias_pass()
    {
        // The blocked path adds the bias to each tile after its last KC slice; every other path after the product.
        // Either way each element is fl(product (+ C) + bias): the bits of Multiply followed by AddToRows. Shapes
        // cover the small path, a few rows, row-block and panel splits, A in place and packed (n > 768), edge tiles,
        // several KC slices, transposes, accumulation and k = 0.
        using var one = new ComputePool(1);
        using var two = new ComputePool(2);
        foreach (var (m, n, k) in new[] { (3, 5, 7), (2, 300, 400), (200, 333, 300), (610, 192, 600), (37, 40, 700), (40, 800, 50), (64, 64, 0), (300, 64, 64) })
            foreach (bool transA in new[] { false, true })
                foreach (bool transB in new[] { false, true })
                    foreach (bool accumulate in new[] { false, true })
                        foreach (var pool in new[] { one, two })
                        {
                            var a = Random(m * k, 21);
                            var b = Random(k * n, 22);
                            var bias = Random(n, 23);
                            var fused = Random(m * n, 24);
                            var twoPass = (float[])fused.Clone();
                            int lda = transA ? m : k, ldb = transB ? k : n;
                            fixed (float* pa = a, pb = b, pbias = bias, pf = fused, pt = twoPass)
                            {
                                Gemm.Multiply(transA, transB, m, n, k, pa, lda, pb, ldb, pf, n, accumulate, pool, pbias);
                                Gemm.Multiply(transA, transB, m, n, k, pa, lda, pb, ldb, pt, n, accumulate, pool);
                                BiasKernels.AddToRows(pt, pbias, m, n);
                            }
                            Assert.True(twoPass.AsSpan().SequenceEqual(fused), $"m={m} n={n} k={k} transA={transA} transB={transB} accumulate={accumulate} threads={pool.Threads}");
                        }
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
