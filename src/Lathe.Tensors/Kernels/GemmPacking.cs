using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Lathe.Tensors.Kernels;

/// <summary>Packs blocks of op(A) and op(B) into the panel layouts the micro-kernels stream: for A, MR-tall
/// panels with the MR values of each k adjacent; for B, NR-wide panels with the NR values of each k adjacent.
/// Short edge panels are zero-padded so the micro-kernel never needs a bounds check.</summary>
internal static unsafe class GemmPacking
{
    /// <summary>Packs rows [i0, i0+mc) × cols [p0, p0+kc) of op(A) into MR-row panels at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackA(bool transA, float* a, int lda, int i0, int mc, int p0, int kc, int mr, float* dst)
    {
        for (int i = 0; i < mc; i += mr)
        {
            int rows = Math.Min(mr, mc - i);
            float* panel = dst + (long)i * kc;
            if (transA)
            {
                // op(A)(r, p) = a[p·lda + r]: each k reads `rows` adjacent values. Full panels of the two
                // micro-kernels' heights (12 and 6) move as one 256-bit and one 128-bit (or 64-bit) copy per k: the
                // element loop cost as much as the weight-gradient GEMMs' packing of a transposed A (dYᵀ) is worth.
                float* src0 = a + (long)p0 * lda + i0 + i;
                if (rows == mr && mr == 12 && Avx.IsSupported)
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = src0 + (long)p * lda;
                        float* d = panel + (long)p * 12;
                        Avx.Store(d, Avx.LoadVector256(src));
                        Sse.Store(d + 8, Sse.LoadVector128(src + 8));
                    }
                else if (rows == mr && mr == 6 && Avx.IsSupported)
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = src0 + (long)p * lda;
                        float* d = panel + (long)p * 6;
                        Sse.Store(d, Sse.LoadVector128(src));
                        *(long*)(d + 4) = *(long*)(src + 4);
                    }
                else
                    for (int p = 0; p < kc; p++)
                    {
                        float* src = src0 + (long)p * lda;
                        float* d = panel + (long)p * mr;
                        int r = 0;
                        for (; r < rows; r++) d[r] = src[r];
                        for (; r < mr; r++) d[r] = 0f;
                    }
            }
            else TransposePanel(a + (long)(i0 + i) * lda + p0, lda, rows, kc, mr, panel);
        }
    }

    /// <summary>Packs rows [p0, p0+kc) × cols [j0, j0+cols) of op(B) into one NR-wide panel at <paramref name="dst"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void PackB(bool transB, float* b, int ldb, int p0, int kc, int j0, int cols, int nr, float* dst)
    {
        if (!transB)
        {
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (long)(p0 + p) * ldb + j0;
                float* d = dst + (long)p * nr;
                // The micro-kernels' widths (32, 16) as whole vectors; a span copy's call costs more than 128 bytes.
                if (cols == nr && nr == 32 && Avx512F.IsSupported)
                {
                    Avx512F.Store(d, Avx512F.LoadVector512(src));
                    Avx512F.Store(d + 16, Avx512F.LoadVector512(src + 16));
                }
                else if (cols == nr && nr == 16 && Avx.IsSupported)
                {
                    Avx.Store(d, Avx.LoadVector256(src));
                    Avx.Store(d + 8, Avx.LoadVector256(src + 8));
                }
                else if (cols == nr) new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(d, nr));
                else
                {
                    int q = 0;
                    for (; q < cols; q++) d[q] = src[q];
                    for (; q < nr; q++) d[q] = 0f;
                }
            }
        }
        else TransposePanel(b + (long)j0 * ldb + p0, ldb, cols, kc, nr, dst);
    }

    /// <summary>dst[p·width + r] = src[r·ld + p] for r &lt; rows, p &lt; kc, and 0 for rows ≤ r &lt; width: the
    /// panel of `rows` stored rows read across. Full 8×8 and 4×4 tiles are transposed in registers (the loads and
    /// stores stay contiguous); the edges go element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void TransposePanel(float* src, long ld, int rows, int kc, int width, float* dst)
    {
        // Tiles: rows [0, rows8) in 8×8 for k < kc8; rows [rows8, rows4) in 4×4 for k < kc4; the rest one by one.
        int rows8 = 0, rows4 = 0, kc8 = 0, kc4 = 0;
        if (Avx.IsSupported)
        {
            rows8 = rows & ~7;
            rows4 = rows8 + ((rows - rows8) & ~3);
            kc8 = kc & ~7;
            kc4 = kc & ~3;
            for (int r0 = 0; r0 < rows8; r0 += 8)
                for (int p = 0; p < kc8; p += 8) Transpose8x8(src + r0 * ld + p, ld, dst + (long)p * width + r0, width);
            for (int r0 = rows8; r0 < rows4; r0 += 4)
                for (int p = 0; p < kc4; p += 4) Transpose4x4(src + r0 * ld + p, ld, dst + (long)p * width + r0, width);
        }
        for (int p = 0; p < kc; p++)
        {
            float* d = dst + (long)p * width;
            if (p >= kc8) for (int r = 0; r < rows8; r++) d[r] = src[r * ld + p];
            if (p >= kc4) for (int r = rows8; r < rows4; r++) d[r] = src[r * ld + p];
            for (int r = rows4; r < rows; r++) d[r] = src[r * ld + p];
            for (int r = rows; r < width; r++) d[r] = 0f;
        }
    }

    // The 8×8 block at src (rows stride ld) transposed into dst (rows stride ldd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(float* src, long ld, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + ld);
        var r2 = Avx.LoadVector256(src + 2 * ld); var r3 = Avx.LoadVector256(src + 3 * ld);
        var r4 = Avx.LoadVector256(src + 4 * ld); var r5 = Avx.LoadVector256(src + 5 * ld);
        var r6 = Avx.LoadVector256(src + 6 * ld); var r7 = Avx.LoadVector256(src + 7 * ld);
        // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    // The 4×4 block at src (rows stride ld) transposed into dst (rows stride ldd).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose4x4(float* src, long ld, float* dst, int ldd)
    {
        var r0 = Sse.LoadVector128(src); var r1 = Sse.LoadVector128(src + ld);
        var r2 = Sse.LoadVector128(src + 2 * ld); var r3 = Sse.LoadVector128(src + 3 * ld);
        var t0 = Sse.UnpackLow(r0, r1); var t1 = Sse.UnpackHigh(r0, r1);
        var t2 = Sse.UnpackLow(r2, r3); var t3 = Sse.UnpackHigh(r2, r3);
        Sse.Store(dst, Sse.MoveLowToHigh(t0, t2));
        Sse.Store(dst + ldd, Sse.MoveHighToLow(t2, t0));
        Sse.Store(dst + 2 * ldd, Sse.MoveLowToHigh(t1, t3));
        Sse.Store(dst + 3 * ldd, Sse.MoveHighToLow(t3, t1));
    }
}
