using System.Runtime.CompilerServices;

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
                // op(A)(r, p) = a[p·lda + r]: each k reads `rows` adjacent values.
                for (int p = 0; p < kc; p++)
                {
                    float* src = a + (long)(p0 + p) * lda + i0 + i;
                    float* d = panel + (long)p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0f;
                }
            }
            else if (rows == mr)
            {
                // k outer, rows inner: the writes are sequential and the reads are mr streams the
                // prefetcher follows (row-outer order scatters every write by mr floats and is ~2× slower).
                float* src = a + (long)(i0 + i) * lda + p0;
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + (long)p * mr;
                    for (int r = 0; r < mr; r++) d[r] = src[(long)r * lda + p];
                }
            }
            else
            {
                for (int p = 0; p < kc; p++)
                {
                    float* d = panel + (long)p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = a[(long)(i0 + i + r) * lda + p0 + p];
                    for (; r < mr; r++) d[r] = 0f;
                }
            }
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
                if (cols == nr) new ReadOnlySpan<float>(src, nr).CopyTo(new Span<float>(d, nr));
                else
                {
                    int q = 0;
                    for (; q < cols; q++) d[q] = src[q];
                    for (; q < nr; q++) d[q] = 0f;
                }
            }
        }
        else
        {
            // op(B)(p, j) = b[j·ldb + p]: k outer so the writes are sequential; the `cols` read streams (one per
            // stored row) each advance one float per k, which the prefetcher follows.
            float* src = b + (long)j0 * ldb + p0;
            for (int p = 0; p < kc; p++)
            {
                float* d = dst + (long)p * nr;
                int q = 0;
                for (; q < cols; q++) d[q] = src[(long)q * ldb + p];
                for (; q < nr; q++) d[q] = 0f;
            }
        }
    }
}
