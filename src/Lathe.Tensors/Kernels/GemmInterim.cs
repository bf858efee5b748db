namespace Lathe.Tensors.Kernels;

// INTERIM: a plain loop GEMM so the op layer compiles and tests run while the packed, register-blocked
// GEMM is written on its own branch. Deleted when that lands.
public static unsafe partial class Gemm
{
    public static void Multiply(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate = false)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (transB ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
                c[(long)i * ldc + j] = accumulate ? c[(long)i * ldc + j] + s : s;
            }
    }

    public static void MultiplyBatched(bool transA, bool transB, int m, int n, int k,
        float* a, int lda, long strideA, float* b, int ldb, long strideB, float* c, int ldc, long strideC,
        int batch, bool accumulate = false)
    {
        for (int i = 0; i < batch; i++)
            Multiply(transA, transB, m, n, k, a + i * strideA, lda, b + i * strideB, ldb, c + i * strideC, ldc, accumulate);
    }
}
