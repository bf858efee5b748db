using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>C (m×n) = A (m×k) · Bᵀ (+ C) for few rows of A against B stored (n, k) — a linear layer's weight (out, in)
/// — as in a batched decoding step: m is the number of sequences advanced together, n·k a whole weight matrix.
/// <para>Why not the blocked GEMM: it packs B on every call (a read and a write of the whole weight, then a read of the
/// copy), which a product with few rows of A cannot amortise — a decoding step is bound by streaming the weights once.
/// Here B is read once, in place: tiles of 4 rows of B (kept in L1) against the rows of A (in L1/L2), one vector
/// accumulator per element of C over k, reduced at the end. Work is split over strips of B's rows.</para>
/// <para>Every element is the same arithmetic wherever it lies in a tile and whatever m, n or the thread count: lanes
/// accumulate k in vector-width steps in order, a fixed tree reduces them (<see cref="Reduce4"/>), then the k tail adds
/// in order. So a sequence's logits do not depend on which other sequences share its step (batch invariance: a seeded
/// request gives the same tokens under any load). The scalar twin is <see cref="Gemm.MultiplyReference"/>.</para>
/// </summary>
internal static unsafe class GemmFewRows
{
    /// <summary>Up to this many rows of A the product runs here (with AVX2 and FMA); above, the blocked GEMM's packing
    /// pays for itself. Measured on one core (weights 512×512 to 32000×512): 1.3–2.2× the blocked GEMM at m = 16–64,
    /// even at 128, behind it at 256.</summary>
    public const int MaxRows = 128;

    const int NR = 4;   // rows of B per tile: one Reduce4 per row of A

    public static bool Applies(bool transA, bool transB, int m, int n, int k) =>
        !transA && transB && m <= MaxRows && k > 0 && Avx2.IsSupported && Fma.IsSupported;

    public static void Multiply(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, ComputePool pool)
    {
        // Strips of NR rows of B per task: enough for ~64k multiply-adds, so a task is worth a claim on the pool.
        int strips = (n + NR - 1) / NR;
        int stripsPerTask = (int)Math.Clamp(65536 / ((long)m * k * NR), 1, strips);
        var body = new Body
        {
            A = a, B = b, C = c, Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k, Accumulate = accumulate,
            RowsPerTask = stripsPerTask * NR, Avx512 = Avx512F.IsSupported,
        };
        pool.For((strips + stripsPerTask - 1) / stripsPerTask, ref body);
    }

    /// <summary>The same product on the calling thread, for kernels that already run as pool tasks (decoding attention's
    /// scores: a few query heads against a block of keys). Needs AVX2 and FMA.</summary>
    internal static void MultiplyOnThisThread(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        var body = new Body
        {
            A = a, B = b, C = c, Lda = lda, Ldb = ldb, Ldc = ldc, M = m, N = n, K = k, Accumulate = accumulate,
            RowsPerTask = n, Avx512 = Avx512F.IsSupported,
        };
        body.Execute(0);
    }

    struct Body : IParallelBody
    {
        public float* A, B, C;
        public int Lda, Ldb, Ldc, M, N, K, RowsPerTask;
        public bool Accumulate, Avx512;

        public void Execute(int task)
        {
            int j0 = task * RowsPerTask, j1 = Math.Min(N, j0 + RowsPerTask);
            int j = j0;
            for (; j + NR <= j1; j += NR)
            {
                float* b = B + (long)j * Ldb, c = C + j;
                if (Avx512) Strip512(M, K, A, Lda, b, Ldb, c, Ldc, Accumulate);
                else Strip256(M, K, A, Lda, b, Ldb, c, Ldc, Accumulate);
            }
            for (; j < j1; j++) Column(M, K, A, Lda, B + (long)j * Ldb, C + j, Ldc, Accumulate, Avx512);
        }
    }

    /// <summary>All m rows of A against rows j..j+3 of B (b points at row j), 512-bit: tiles of 4 rows of A × 4 rows of
    /// B keep 16 accumulators in registers; each k step loads 4 + 4 vectors for 16 FMAs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strip512(int m, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        float* b0 = b, b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        int k16 = k & ~15, i = 0;
        // The next strip's rows are fetched while the first tile reads this one's (one line per row per k step): a strip
        // is too short a run for the hardware prefetcher to ramp up before it ends.
        float* next = m >= 4 ? b + NR * (long)ldb : null;
        for (; i + 4 <= m; i += 4)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
            Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default,
                             s10 = default, s11 = default, s12 = default, s13 = default,
                             s20 = default, s21 = default, s22 = default, s23 = default,
                             s30 = default, s31 = default, s32 = default, s33 = default;
            for (int p = 0; p < k16; p += 16)
            {
                if (next != null)
                {
                    Sse.Prefetch0(next + p); Sse.Prefetch0(next + ldb + p);
                    Sse.Prefetch0(next + 2L * ldb + p); Sse.Prefetch0(next + 3L * ldb + p);
                }
                var w0 = Vector512.Load(b0 + p); var w1 = Vector512.Load(b1 + p);
                var w2 = Vector512.Load(b2 + p); var w3 = Vector512.Load(b3 + p);
                var x = Vector512.Load(a0 + p);
                s00 = Avx512F.FusedMultiplyAdd(x, w0, s00); s01 = Avx512F.FusedMultiplyAdd(x, w1, s01);
                s02 = Avx512F.FusedMultiplyAdd(x, w2, s02); s03 = Avx512F.FusedMultiplyAdd(x, w3, s03);
                x = Vector512.Load(a1 + p);
                s10 = Avx512F.FusedMultiplyAdd(x, w0, s10); s11 = Avx512F.FusedMultiplyAdd(x, w1, s11);
                s12 = Avx512F.FusedMultiplyAdd(x, w2, s12); s13 = Avx512F.FusedMultiplyAdd(x, w3, s13);
                x = Vector512.Load(a2 + p);
                s20 = Avx512F.FusedMultiplyAdd(x, w0, s20); s21 = Avx512F.FusedMultiplyAdd(x, w1, s21);
                s22 = Avx512F.FusedMultiplyAdd(x, w2, s22); s23 = Avx512F.FusedMultiplyAdd(x, w3, s23);
                x = Vector512.Load(a3 + p);
                s30 = Avx512F.FusedMultiplyAdd(x, w0, s30); s31 = Avx512F.FusedMultiplyAdd(x, w1, s31);
                s32 = Avx512F.FusedMultiplyAdd(x, w2, s32); s33 = Avx512F.FusedMultiplyAdd(x, w3, s33);
            }
            Store(Reduce4(s00, s01, s02, s03), a0, b, ldb, k16, k, c + (long)i * ldc, accumulate);
            Store(Reduce4(s10, s11, s12, s13), a1, b, ldb, k16, k, c + (long)(i + 1) * ldc, accumulate);
            Store(Reduce4(s20, s21, s22, s23), a2, b, ldb, k16, k, c + (long)(i + 2) * ldc, accumulate);
            Store(Reduce4(s30, s31, s32, s33), a3, b, ldb, k16, k, c + (long)(i + 3) * ldc, accumulate);
            next = null;
        }
        for (; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int p = 0; p < k16; p += 16)
            {
                var x = Vector512.Load(a0 + p);
                s0 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b0 + p), s0);
                s1 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b1 + p), s1);
                s2 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b2 + p), s2);
                s3 = Avx512F.FusedMultiplyAdd(x, Vector512.Load(b3 + p), s3);
            }
            Store(Reduce4(s0, s1, s2, s3), a0, b, ldb, k16, k, c + (long)i * ldc, accumulate);
        }
    }

    /// <summary><see cref="Strip512"/> with 256-bit vectors: tiles of 2 rows of A × 4 rows of B (8 accumulators of the
    /// 16 YMM registers).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Strip256(int m, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        float* b0 = b, b1 = b + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
        int k8 = k & ~7, i = 0;
        for (; i + 2 <= m; i += 2)
        {
            float* a0 = a + (long)i * lda, a1 = a0 + lda;
            Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default,
                             s10 = default, s11 = default, s12 = default, s13 = default;
            for (int p = 0; p < k8; p += 8)
            {
                var w0 = Vector256.Load(b0 + p); var w1 = Vector256.Load(b1 + p);
                var w2 = Vector256.Load(b2 + p); var w3 = Vector256.Load(b3 + p);
                var x = Vector256.Load(a0 + p);
                s00 = Fma.MultiplyAdd(x, w0, s00); s01 = Fma.MultiplyAdd(x, w1, s01);
                s02 = Fma.MultiplyAdd(x, w2, s02); s03 = Fma.MultiplyAdd(x, w3, s03);
                x = Vector256.Load(a1 + p);
                s10 = Fma.MultiplyAdd(x, w0, s10); s11 = Fma.MultiplyAdd(x, w1, s11);
                s12 = Fma.MultiplyAdd(x, w2, s12); s13 = Fma.MultiplyAdd(x, w3, s13);
            }
            Store(Reduce4(s00, s01, s02, s03), a0, b, ldb, k8, k, c + (long)i * ldc, accumulate);
            Store(Reduce4(s10, s11, s12, s13), a1, b, ldb, k8, k, c + (long)(i + 1) * ldc, accumulate);
        }
        for (; i < m; i++)
        {
            float* a0 = a + (long)i * lda;
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int p = 0; p < k8; p += 8)
            {
                var x = Vector256.Load(a0 + p);
                s0 = Fma.MultiplyAdd(x, Vector256.Load(b0 + p), s0);
                s1 = Fma.MultiplyAdd(x, Vector256.Load(b1 + p), s1);
                s2 = Fma.MultiplyAdd(x, Vector256.Load(b2 + p), s2);
                s3 = Fma.MultiplyAdd(x, Vector256.Load(b3 + p), s3);
            }
            Store(Reduce4(s0, s1, s2, s3), a0, b, ldb, k8, k, c + (long)i * ldc, accumulate);
        }
    }

    /// <summary>One row of B (the last n mod 4) against every row of A, with the same per-element arithmetic as the
    /// strips (the other three lanes of the reduction are zeros, which do not touch lane 0's sums).</summary>
    static void Column(int m, int k, float* a, int lda, float* b, float* c, int ldc, bool accumulate, bool avx512)
    {
        int kv = avx512 ? k & ~15 : k & ~7;
        for (int i = 0; i < m; i++)
        {
            float* ai = a + (long)i * lda;
            float s;
            if (avx512)
            {
                Vector512<float> acc = default;
                for (int p = 0; p < kv; p += 16) acc = Avx512F.FusedMultiplyAdd(Vector512.Load(ai + p), Vector512.Load(b + p), acc);
                s = Reduce4(acc, default, default, default).ToScalar();
            }
            else
            {
                Vector256<float> acc = default;
                for (int p = 0; p < kv; p += 8) acc = Fma.MultiplyAdd(Vector256.Load(ai + p), Vector256.Load(b + p), acc);
                s = Reduce4(acc, default, default, default).ToScalar();
            }
            for (int p = kv; p < k; p++) s = MathF.FusedMultiplyAdd(ai[p], b[p], s);
            float* ci = c + (long)i * ldc;
            *ci = accumulate ? *ci + s : s;
        }
    }

    /// <summary>c[0..4) (+)= the four reduced sums plus the k tail [kv, k) of row a against B's rows b, b+ldb, ….</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector128<float> sums, float* a, float* b, int ldb, int kv, int k, float* c, bool accumulate)
    {
        if (kv < k)
        {
            float s0 = sums.GetElement(0), s1 = sums.GetElement(1), s2 = sums.GetElement(2), s3 = sums.GetElement(3);
            for (int p = kv; p < k; p++)
            {
                float x = a[p];
                s0 = MathF.FusedMultiplyAdd(x, b[p], s0);
                s1 = MathF.FusedMultiplyAdd(x, b[ldb + p], s1);
                s2 = MathF.FusedMultiplyAdd(x, b[2L * ldb + p], s2);
                s3 = MathF.FusedMultiplyAdd(x, b[3L * ldb + p], s3);
            }
            sums = Vector128.Create(s0, s1, s2, s3);
        }
        if (accumulate) sums += Vector128.Load(c);
        sums.Store(c);
    }

    /// <summary>The sums of four 512-bit vectors, [Σv0, Σv1, Σv2, Σv3]. Each sum takes the same tree whatever the other
    /// three hold: within each 128-bit lane (x0 + x2) + (x1 + x3), then the lanes (L0 + L2) + (L1 + L3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Reduce4(Vector512<float> v0, Vector512<float> v1, Vector512<float> v2, Vector512<float> v3)
    {
        // Per 128-bit lane: [v0₀+v0₂, v1₀+v1₂, v0₁+v0₃, v1₁+v1₃] and the same for v2, v3.
        var t01 = Avx512F.UnpackLow(v0, v1) + Avx512F.UnpackHigh(v0, v1);
        var t23 = Avx512F.UnpackLow(v2, v3) + Avx512F.UnpackHigh(v2, v3);
        // Per lane: [Σv0, Σv1, Σv2, Σv3] of that lane.
        var lanes = Avx512F.Shuffle(t01, t23, 0b01_00_01_00) + Avx512F.Shuffle(t01, t23, 0b11_10_11_10);
        var half = lanes.GetLower() + lanes.GetUpper();   // L0 + L2, L1 + L3
        return half.GetLower() + half.GetUpper();
    }

    /// <summary>The 256-bit <see cref="Reduce4"/>: within each 128-bit lane (x0 + x2) + (x1 + x3), then L0 + L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> Reduce4(Vector256<float> v0, Vector256<float> v1, Vector256<float> v2, Vector256<float> v3)
    {
        var t01 = Avx.UnpackLow(v0, v1) + Avx.UnpackHigh(v0, v1);
        var t23 = Avx.UnpackLow(v2, v3) + Avx.UnpackHigh(v2, v3);
        var lanes = Avx.Shuffle(t01, t23, 0b01_00_01_00) + Avx.Shuffle(t01, t23, 0b11_10_11_10);
        return lanes.GetLower() + lanes.GetUpper();
    }
}
