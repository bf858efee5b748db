using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Lathe.Tensors.Kernels;

/// <summary>GEMM for small and skinny shapes (matrix-vector products, tiny blocks), where packing and
/// threading cost more than they save: rows of C are built from vectorized axpy (B not transposed) or dot
/// products (B transposed) over contiguous memory. Also the portable path on machines without AVX2/FMA.</summary>
internal static unsafe class GemmSmall
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (!transB)
            {
                // c[i, :] (+)= Σ_p op(A)[i, p] · B[p, :]
                if (n < 8)
                {
                    // Too narrow to vectorize across j: dot products down B's columns.
                    for (int j = 0; j < n; j++)
                    {
                        float d = 0f;
                        for (int p = 0; p < k; p++) d += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * b[(long)p * ldb + j];
                        row[j] = accumulate ? row[j] + d : d;
                    }
                    continue;
                }
                if (!accumulate) row.Clear();
                for (int p = 0; p < k; p++)
                {
                    float s = transA ? a[(long)p * lda + i] : a[(long)i * lda + p];
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(b + (long)p * ldb, n), s, row, row);
                }
            }
            else if (!transA)
            {
                var ai = new ReadOnlySpan<float>(a + (long)i * lda, k);
                for (int j = 0; j < n; j++)
                {
                    float d = TensorPrimitives.Dot(ai, new ReadOnlySpan<float>(b + (long)j * ldb, k));
                    row[j] = accumulate ? row[j] + d : d;
                }
            }
            else
            {
                for (int j = 0; j < n; j++)
                {
                    float* bj = b + (long)j * ldb;
                    float d = 0f;
                    for (int p = 0; p < k; p++) d += a[(long)p * lda + i] * bj[p];
                    row[j] = accumulate ? row[j] + d : d;
                }
            }
        }
    }
}
