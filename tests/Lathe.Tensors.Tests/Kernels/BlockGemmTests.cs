using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>Attention's small-block product against its scalar twin, over shapes that exercise every register tile
/// (8, 4 and 1 rows; 32 and 16 columns, and the padded tail of fewer than 16) with A read directly and through transposing strides; and the block
/// transpose, which must move every value exactly.</summary>
public unsafe class BlockGemmTests
{
    [Theory]
    [InlineData(64, 64, 64, false)]
    [InlineData(64, 64, 64, true)]
    [InlineData(13, 57, 9, false)]
    [InlineData(15, 48, 33, true)]
    [InlineData(1, 1, 1, false)]
    [InlineData(8, 32, 1, true)]
    [InlineData(9, 17, 70, false)]
    [InlineData(50, 50, 64, false)]
    [InlineData(50, 50, 64, true)]
    [InlineData(6, 3, 300, true)]
    public void MulAdd_matches_the_scalar_twin(int m, int n, int k, bool transposedA)
    {
        var a = TestData.Uniform((long)m * k, 10 + m, -2f, 2f);
        var b = TestData.Uniform((long)k * n, 20 + n, -2f, 2f);
        var c0 = TestData.Uniform((long)m * n, 30 + k, -1f, 1f);
        var fast = (float[])c0.Clone();
        var twin = (float[])c0.Clone();
        // A(i, p) = a[i·aRow + p·aCol]: row-major m×k, or stored k×m and read across.
        int aRow = transposedA ? 1 : k, aCol = transposedA ? m : 1;
        fixed (float* pa = a, pb = b, pf = fast, pt = twin)
        {
            BlockGemm.MulAdd(m, n, k, pa, aRow, aCol, pb, n, pf, n);
            BlockGemm.Scalar(m, n, k, pa, aRow, aCol, pb, n, pt, n);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                // Both sum k products in order, one with FMA, one rounding each product: a few ulps of Σ|terms|.
                double abs = Math.Abs(c0[i * n + j]);
                for (int p = 0; p < k; p++) abs += Math.Abs((double)a[(long)i * aRow + (long)p * aCol] * b[p * n + j]);
                double tol = (k + 2) * Math.Pow(2, -23) * abs;
                Assert.True(Math.Abs(fast[i * n + j] - twin[i * n + j]) <= tol, $"m={m} n={n} k={k}: C[{i},{j}] = {fast[i * n + j]}, twin {twin[i * n + j]}");
            }
    }

    [Theory]
    [InlineData(64, 64, 64)]
    [InlineData(13, 19, 20)]
    [InlineData(3, 8, 8)]
    public void Transpose_moves_every_value(int rows, int cols, int ld)
    {
        var src = TestData.Uniform((long)rows * ld, rows + cols);
        var dst = new float[cols * rows];
        fixed (float* ps = src, pd = dst) BlockGemm.Transpose(ps, rows, cols, ld, pd);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) Assert.Equal(src[r * ld + c], dst[c * rows + r]);
    }
}
