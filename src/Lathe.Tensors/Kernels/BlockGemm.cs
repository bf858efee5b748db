using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>C (m×n) += A (m×k) · B (k×n) for the small blocks of attention (≤ 64 on a side), on the calling
/// thread, with no packing. A is read through strides (A(i,p) = a[i·aRow + p·aCol]) so Aᵀ costs nothing;
/// B and C are row-major. With 512-bit vectors, tiles of 8 rows × 2 vectors keep 16 accumulators in registers per
/// k step (two B loads feed 16 FMAs); 256-bit tiles are 4 rows × 2 vectors.</summary>
internal static unsafe class BlockGemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MulAdd(int m, int n, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 32 <= n; j += 32) Columns512x2(m, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
            for (; j + 16 <= n; j += 16) Columns512x1(m, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; j + 16 <= n; j += 16) Columns256x2(m, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
            for (; j + 8 <= n; j += 8) Columns256x1(m, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
        }
        if (j < n)
        {
            if (Vector512.IsHardwareAccelerated && k <= TailMaxK) Tail512(m, n - j, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
            else Scalar(m, n - j, k, a, aRow, aCol, b + j, ldb, c + j, ldc);
        }
    }

    const int TailMaxK = 256;

    // The last n < 16 columns: B's columns copied into a zero-padded k×16 block so the sums run 16 lanes wide, four
    // rows at a time, and only the n valid lanes are added to C. (Attention at T = 50 leaves 2 columns of every score
    // block; in the scalar loop they cost ~4% of a ViT training step.)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tail512(int m, int n, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        float* bt = stackalloc float[k * 16];
        float* lanes = stackalloc float[4 * 16];
        new Span<float>(bt, k * 16).Clear();
        for (int p = 0; p < k; p++)
            for (int q = 0; q < n; q++) bt[p * 16 + q] = b[(long)p * ldb + q];
        int i = 0;
        for (; i < m; i += 4)
        {
            int rows = Math.Min(4, m - i);
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float* ai = a + (long)i * aRow;
            // Rows past m read row 0 again (always valid) and are dropped below.
            long r1 = rows > 1 ? aRow : 0, r2 = rows > 2 ? 2L * aRow : 0, r3 = rows > 3 ? 3L * aRow : 0;
            for (int p = 0; p < k; p++)
            {
                var bv = Vector512.Load(bt + p * 16);
                float* ap = ai + (long)p * aCol;
                c0 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[0]), bv, c0);
                c1 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[r1]), bv, c1);
                c2 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[r2]), bv, c2);
                c3 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[r3]), bv, c3);
            }
            c0.Store(lanes); c1.Store(lanes + 16); c2.Store(lanes + 32); c3.Store(lanes + 48);
            for (int r = 0; r < rows; r++)
            {
                float* ci = c + (long)(i + r) * ldc;
                for (int q = 0; q < n; q++) ci[q] += lanes[r * 16 + q];
            }
        }
    }

    /// <summary>The scalar twin (and the column tail of the vector paths).</summary>
    internal static void Scalar(int m, int n, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int jj = 0; jj < n; jj++)
            {
                float s = 0;
                for (int p = 0; p < k; p++) s += a[(long)i * aRow + (long)p * aCol] * b[(long)p * ldb + jj];
                c[(long)i * ldc + jj] += s;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns512x2(int m, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        int i = 0;
        for (; i + 8 <= m; i += 8)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default,
                             c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default;
            float* ai = a + (long)i * aRow;
            for (int p = 0; p < k; p++)
            {
                float* bp = b + (long)p * ldb;
                var b0 = Vector512.Load(bp); var b1 = Vector512.Load(bp + 16);
                float* ap = ai + (long)p * aCol;
                var x = Vector512.Create(ap[0]);
                c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
                x = Vector512.Create(ap[aRow]);
                c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
                x = Vector512.Create(ap[2 * aRow]);
                c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
                x = Vector512.Create(ap[3 * aRow]);
                c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
                x = Vector512.Create(ap[4 * aRow]);
                c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
                x = Vector512.Create(ap[5 * aRow]);
                c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
                x = Vector512.Create(ap[6 * aRow]);
                c60 = Vector512.FusedMultiplyAdd(x, b0, c60); c61 = Vector512.FusedMultiplyAdd(x, b1, c61);
                x = Vector512.Create(ap[7 * aRow]);
                c70 = Vector512.FusedMultiplyAdd(x, b0, c70); c71 = Vector512.FusedMultiplyAdd(x, b1, c71);
            }
            float* ci = c + (long)i * ldc;
            (Vector512.Load(ci) + c00).Store(ci); (Vector512.Load(ci + 16) + c01).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c10).Store(ci); (Vector512.Load(ci + 16) + c11).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c20).Store(ci); (Vector512.Load(ci + 16) + c21).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c30).Store(ci); (Vector512.Load(ci + 16) + c31).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c40).Store(ci); (Vector512.Load(ci + 16) + c41).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c50).Store(ci); (Vector512.Load(ci + 16) + c51).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c60).Store(ci); (Vector512.Load(ci + 16) + c61).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c70).Store(ci); (Vector512.Load(ci + 16) + c71).Store(ci + 16);
        }
        for (; i + 4 <= m; i += 4)
        {
            Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            float* ai = a + (long)i * aRow;
            for (int p = 0; p < k; p++)
            {
                float* bp = b + (long)p * ldb;
                var b0 = Vector512.Load(bp); var b1 = Vector512.Load(bp + 16);
                float* ap = ai + (long)p * aCol;
                var a0 = Vector512.Create(ap[0]); var a1 = Vector512.Create(ap[aRow]);
                var a2 = Vector512.Create(ap[2 * aRow]); var a3 = Vector512.Create(ap[3 * aRow]);
                c00 = Vector512.FusedMultiplyAdd(a0, b0, c00); c01 = Vector512.FusedMultiplyAdd(a0, b1, c01);
                c10 = Vector512.FusedMultiplyAdd(a1, b0, c10); c11 = Vector512.FusedMultiplyAdd(a1, b1, c11);
                c20 = Vector512.FusedMultiplyAdd(a2, b0, c20); c21 = Vector512.FusedMultiplyAdd(a2, b1, c21);
                c30 = Vector512.FusedMultiplyAdd(a3, b0, c30); c31 = Vector512.FusedMultiplyAdd(a3, b1, c31);
            }
            float* ci = c + (long)i * ldc;
            (Vector512.Load(ci) + c00).Store(ci); (Vector512.Load(ci + 16) + c01).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c10).Store(ci); (Vector512.Load(ci + 16) + c11).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c20).Store(ci); (Vector512.Load(ci + 16) + c21).Store(ci + 16); ci += ldc;
            (Vector512.Load(ci) + c30).Store(ci); (Vector512.Load(ci + 16) + c31).Store(ci + 16);
        }
        for (; i < m; i++)
        {
            Vector512<float> c0 = default, c1 = default;
            for (int p = 0; p < k; p++)
            {
                var ap = Vector512.Create(a[(long)i * aRow + (long)p * aCol]);
                c0 = Vector512.FusedMultiplyAdd(ap, Vector512.Load(b + (long)p * ldb), c0);
                c1 = Vector512.FusedMultiplyAdd(ap, Vector512.Load(b + (long)p * ldb + 16), c1);
            }
            float* ci = c + (long)i * ldc;
            (Vector512.Load(ci) + c0).Store(ci); (Vector512.Load(ci + 16) + c1).Store(ci + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns512x1(int m, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        int i = 0;
        // Four rows at a time: four independent FMA chains instead of one (a single chain waits on FMA latency).
        for (; i + 4 <= m; i += 4)
        {
            Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
            float* ai = a + (long)i * aRow;
            for (int p = 0; p < k; p++)
            {
                var bv = Vector512.Load(b + (long)p * ldb);
                float* ap = ai + (long)p * aCol;
                c0 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[0]), bv, c0);
                c1 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[aRow]), bv, c1);
                c2 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[2 * aRow]), bv, c2);
                c3 = Vector512.FusedMultiplyAdd(Vector512.Create(ap[3 * aRow]), bv, c3);
            }
            float* ci = c + (long)i * ldc;
            (Vector512.Load(ci) + c0).Store(ci); ci += ldc;
            (Vector512.Load(ci) + c1).Store(ci); ci += ldc;
            (Vector512.Load(ci) + c2).Store(ci); ci += ldc;
            (Vector512.Load(ci) + c3).Store(ci);
        }
        for (; i < m; i++)
        {
            Vector512<float> c0 = default;
            for (int p = 0; p < k; p++)
                c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[(long)i * aRow + (long)p * aCol]), Vector512.Load(b + (long)p * ldb), c0);
            float* ci = c + (long)i * ldc;
            (Vector512.Load(ci) + c0).Store(ci);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns256x2(int m, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        int i = 0;
        for (; i + 4 <= m; i += 4)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            float* ai = a + (long)i * aRow;
            for (int p = 0; p < k; p++)
            {
                float* bp = b + (long)p * ldb;
                var b0 = Vector256.Load(bp); var b1 = Vector256.Load(bp + 8);
                float* ap = ai + (long)p * aCol;
                var a0 = Vector256.Create(ap[0]); var a1 = Vector256.Create(ap[aRow]);
                var a2 = Vector256.Create(ap[2 * aRow]); var a3 = Vector256.Create(ap[3 * aRow]);
                c00 = Vector256.FusedMultiplyAdd(a0, b0, c00); c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                c10 = Vector256.FusedMultiplyAdd(a1, b0, c10); c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                c20 = Vector256.FusedMultiplyAdd(a2, b0, c20); c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                c30 = Vector256.FusedMultiplyAdd(a3, b0, c30); c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            }
            float* ci = c + (long)i * ldc;
            (Vector256.Load(ci) + c00).Store(ci); (Vector256.Load(ci + 8) + c01).Store(ci + 8); ci += ldc;
            (Vector256.Load(ci) + c10).Store(ci); (Vector256.Load(ci + 8) + c11).Store(ci + 8); ci += ldc;
            (Vector256.Load(ci) + c20).Store(ci); (Vector256.Load(ci + 8) + c21).Store(ci + 8); ci += ldc;
            (Vector256.Load(ci) + c30).Store(ci); (Vector256.Load(ci + 8) + c31).Store(ci + 8);
        }
        for (; i < m; i++)
        {
            Vector256<float> c0 = default, c1 = default;
            for (int p = 0; p < k; p++)
            {
                var ap = Vector256.Create(a[(long)i * aRow + (long)p * aCol]);
                c0 = Vector256.FusedMultiplyAdd(ap, Vector256.Load(b + (long)p * ldb), c0);
                c1 = Vector256.FusedMultiplyAdd(ap, Vector256.Load(b + (long)p * ldb + 8), c1);
            }
            float* ci = c + (long)i * ldc;
            (Vector256.Load(ci) + c0).Store(ci); (Vector256.Load(ci + 8) + c1).Store(ci + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Columns256x1(int m, int k, float* a, int aRow, int aCol, float* b, int ldb, float* c, int ldc)
    {
        for (int i = 0; i < m; i++)
        {
            Vector256<float> c0 = default;
            for (int p = 0; p < k; p++)
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[(long)i * aRow + (long)p * aCol]), Vector256.Load(b + (long)p * ldb), c0);
            float* ci = c + (long)i * ldc;
            (Vector256.Load(ci) + c0).Store(ci);
        }
    }

    /// <summary>Transposes rows × cols (row stride ld) into cols × rows (row stride rows), in 8×8 register tiles.</summary>
    public static void Transpose(float* src, int rows, int cols, int ld, float* dst)
        => GemmPacking.TransposePanel(src, ld, rows, cols, rows, dst);
}
