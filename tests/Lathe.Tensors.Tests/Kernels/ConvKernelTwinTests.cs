using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The im2col + GEMM convolution kernels (<see cref="ConvKernels"/>) against their direct-loop twin
/// (<see cref="ConvReference"/>, double accumulators) over a sweep of geometries — kernel 1/3/4, stride 1/2, padding
/// 0/1, groups 1/2, non-square images, batch 1..17 (weight-gradient chunks), images big enough for the blocked GEMM
/// and several im2col blocks — in overwrite and accumulate mode; and bit-identical results on 1 and 3 threads.
/// Tolerance: |fast − twin| ≤ 1e-5 · M where M is the same sum over |terms| (the twin run on |inputs|): float32
/// round-off of a k-term dot product is bounded by k·u·M and is ≈ √k·u·M in practice (u = 6e-8, k ≤ 4k here).</summary>
public unsafe class ConvKernelTwinTests
{
    const float Tolerance = 1e-5f;

    public static IEnumerable<object[]> Geometries()
    {
        // N, C, H, W, O, K, stride, padding, groups
        yield return [1, 1, 1, 1, 1, 1, 1, 0, 1];
        yield return [2, 3, 5, 6, 4, 3, 1, 1, 1];
        yield return [1, 2, 7, 5, 3, 3, 2, 0, 1];
        yield return [2, 4, 6, 6, 6, 4, 2, 1, 2];
        yield return [3, 4, 5, 7, 2, 1, 1, 0, 2];     // pointwise, grouped
        yield return [2, 6, 4, 3, 4, 1, 2, 1, 1];     // 1×1 with stride and padding: unrolled
        yield return [17, 2, 4, 4, 3, 3, 1, 1, 1];    // more images than weight-gradient chunks
        yield return [2, 8, 12, 12, 16, 3, 1, 1, 1];  // blocked GEMM (m·n·k > 64k)
        yield return [1, 64, 30, 30, 2, 3, 1, 1, 1];  // two im2col blocks (15 output rows each)
        yield return [4, 8, 16, 14, 16, 4, 2, 1, 1];  // a DCGAN discriminator layer
    }

    static float[] Abs(float[] a) => a.Select(MathF.Abs).ToArray();

    static void Close(float[] expected, float[] magnitude, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= Tolerance * magnitude[i] + 1e-30,
                $"{what}: element {i} is {actual[i]}, twin says {expected[i]} (magnitude {magnitude[i]})");
    }

    static ConvGeometry Geometry(int n, int c, int h, int w, int o, int k, int s, int p, int g) =>
        new(n, c, h, w, o, k, k, (h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1, s, p, g);

    [Theory]
    [MemberData(nameof(Geometries))]
    public void Forward_and_gradients_equal_the_twin(int n, int c, int h, int w, int o, int k, int s, int p, int groups)
    {
        var g = Geometry(n, c, h, w, o, k, s, p, groups);
        float[] x = TestData.Uniform((long)n * g.InputImage, 1), wt = TestData.Uniform((long)o * g.PatchRows, 2, -0.5f, 0.5f);
        float[] b = TestData.Uniform(o, 3), dy = TestData.Uniform((long)n * g.OutputImage, 4);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] y0 = TestData.Uniform(dy.Length, 5), dx0 = TestData.Uniform(x.Length, 6), dw0 = TestData.Uniform(wt.Length, 7), db0 = TestData.Uniform(o, 8);
            float[] Start(float[] a) => accumulate ? (float[])a.Clone() : new float[a.Length];
            float[] yR = Start(y0), yF = Start(y0), yM = Start(y0).Select(MathF.Abs).ToArray();
            float[] dxR = Start(dx0), dxF = Start(dx0), dxM = Abs(Start(dx0));
            float[] dwR = Start(dw0), dwF = Start(dw0), dwM = Abs(Start(dw0));
            float[] dbR = Start(db0), dbF = Start(db0), dbM = Abs(Start(db0));
            float[] ax = Abs(x), aw = Abs(wt), ab = Abs(b), ady = Abs(dy);
            fixed (float* px = x, pw = wt, pb = b, pdy = dy, pax = ax, paw = aw, pab = ab, pady = ady)
            fixed (float* pyR = yR, pyF = yF, pyM = yM, pdxR = dxR, pdxF = dxF, pdxM = dxM, pdwR = dwR, pdwF = dwF, pdwM = dwM)
            fixed (float* pdbR = dbR, pdbF = dbF, pdbM = dbM)
            {
                ConvReference.Forward(g, px, pw, pb, pyR, accumulate);
                ConvReference.Forward(g, pax, paw, pab, pyM, accumulate);
                ConvKernels.Forward(g, px, pw, pb, pyF, accumulate);
                ConvReference.BackwardInput(g, pdy, pw, pdxR, accumulate);
                ConvReference.BackwardInput(g, pady, paw, pdxM, accumulate);
                ConvKernels.BackwardInput(g, pdy, pw, pdxF, accumulate);
                ConvReference.BackwardWeight(g, px, pdy, pdwR, accumulate);
                ConvReference.BackwardWeight(g, pax, pady, pdwM, accumulate);
                ConvKernels.BackwardWeight(g, px, pdy, pdwF, accumulate);
                ConvReference.BackwardBias(pdy, pdbR, n, o, g.OutputPixels, accumulate);
                ConvReference.BackwardBias(pady, pdbM, n, o, g.OutputPixels, accumulate);
                ConvKernels.BackwardBias(pdy, pdbF, n, o, g.OutputPixels, accumulate);
            }
            string tag = $"{n}x{c}x{h}x{w} → {o}, k{k} s{s} p{p} g{groups}, accumulate={accumulate}";
            Close(yR, yM, yF, $"forward {tag}");
            Close(dxR, dxM, dxF, $"input gradient {tag}");
            Close(dwR, dwM, dwF, $"weight gradient {tag}");
            Close(dbR, dbM, dbF, $"bias gradient {tag}");
        }
    }

    [Theory]
    [InlineData(2, 16, 28, 28, 32, 3, 1, 1, 1)]
    [InlineData(5, 4, 9, 7, 6, 4, 2, 1, 2)]
    [InlineData(1, 64, 30, 30, 2, 3, 1, 1, 1)]
    [InlineData(20, 8, 6, 6, 8, 1, 1, 0, 1)]
    public void Results_are_bit_identical_on_one_and_three_threads(int n, int c, int h, int w, int o, int k, int s, int p, int groups)
    {
        var g = Geometry(n, c, h, w, o, k, s, p, groups);
        float[] x = TestData.Uniform((long)n * g.InputImage, 11), wt = TestData.Uniform((long)o * g.PatchRows, 12), dy = TestData.Uniform((long)n * g.OutputImage, 13);
        float[][] Run(ComputePool pool)
        {
            float[] y = new float[dy.Length], dx = new float[x.Length], dw = new float[wt.Length];
            fixed (float* px = x, pw = wt, pdy = dy, py = y, pdx = dx, pdw = dw)
            {
                ConvKernels.Forward(g, px, pw, null, py, false, pool);
                ConvKernels.BackwardInput(g, pdy, pw, pdx, false, pool);
                ConvKernels.BackwardWeight(g, px, pdy, pdw, false, pool);
            }
            return [y, dx, dw];
        }
        float[][] one, three;
        using (var pool = new ComputePool(1)) one = Run(pool);
        using (var pool = new ComputePool(3)) three = Run(pool);
        for (int i = 0; i < 3; i++) Assert.Equal(one[i], three[i]);
    }
}
