using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The pooled elementwise passes and the bias kernels against plain scalar loops, at lengths around the
/// inline/parallel threshold and the chunk boundaries.</summary>
public unsafe class ParallelSpansTests
{
    public static TheoryData<int> Lengths => new() { 0, 1, 17, 65535, 65536, 65537, 98304 + 5, 200003 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Every_pass_matches_its_scalar_definition(int n)
    {
        float[] a = TestData.Uniform(n, 1), b = TestData.Uniform(n, 2, 0.5f, 2f), y0 = TestData.Uniform(n, 3);
        void Check(Func<int, float> expected, Action<nint, nint, nint> run, string name)
        {
            var y = (float[])y0.Clone();
            fixed (float* pa = a, pb = b, py = y) run((nint)pa, (nint)pb, (nint)py);
            for (int i = 0; i < n; i++)
                Assert.True(y[i] == expected(i), $"{name} n={n} at {i}: {y[i]} vs {expected(i)}");
        }
        Check(i => a[i] + b[i], (pa, pb, py) => ParallelSpans.Add((float*)pa, (float*)pb, (float*)py, n), "Add");
        Check(i => a[i] - b[i], (pa, pb, py) => ParallelSpans.Subtract((float*)pa, (float*)pb, (float*)py, n), "Subtract");
        Check(i => a[i] * b[i], (pa, pb, py) => ParallelSpans.Multiply((float*)pa, (float*)pb, (float*)py, n), "Multiply");
        Check(i => a[i] / b[i], (pa, pb, py) => ParallelSpans.Divide((float*)pa, (float*)pb, (float*)py, n), "Divide");
        Check(i => y0[i] + a[i], (pa, _, py) => ParallelSpans.Accumulate((float*)pa, (float*)py, n), "Accumulate");
        Check(i => a[i] * -0.75f + y0[i], (pa, _, py) => ParallelSpans.AccumulateScaled((float*)pa, -0.75f, (float*)py, n), "AccumulateScaled");
        Check(i => a[i] * 3f, (pa, _, py) => ParallelSpans.Scale((float*)pa, 3f, (float*)py, n), "Scale");
        Check(i => a[i], (pa, _, py) => ParallelSpans.Copy((float*)pa, (float*)py, n), "Copy");
        Check(_ => 0f, (_, _, py) => ParallelSpans.Clear((float*)py, n), "Clear");
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 257)]
    [InlineData(64, 1536)]
    [InlineData(129, 1000)]
    [InlineData(2048, 384)]
    [InlineData(3200, 200)]
    public void Bias_rows_and_column_sums_match_scalar_loops(int rows, int cols)
    {
        float[] g = TestData.Uniform((long)rows * cols, 4), bias = TestData.Uniform(cols, 5), start = TestData.Uniform(cols, 6);
        var y = (float[])g.Clone();
        fixed (float* py = y, pb = bias) BiasKernels.AddToRows(py, pb, rows, cols);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                Assert.Equal(g[r * cols + c] + bias[c], y[r * cols + c]);
        foreach (bool overwrite in new[] { true, false })
        {
            var db = (float[])start.Clone();
            fixed (float* pg = g, pd = db) BiasKernels.SumRows(pg, pd, rows, cols, overwrite);
            for (int c = 0; c < cols; c++)
            {
                // The kernel's order: the first row (or the old value), then each row in turn, in float.
                float expected = overwrite ? g[c] : start[c] + g[c];
                for (int r = 1; r < rows; r++) expected += g[r * cols + c];
                Assert.Equal(expected, db[c]);
            }
        }
    }
}
