using Lathe.Tensors.Kernels;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>GroupNorm and adaLN's vectorized, threaded kernels (<see cref="GroupNormKernels"/>) against their scalar
/// twin (<see cref="GroupNormReference"/>, double accumulators), small and large enough to run in parallel, with and
/// without affine parameters; and bit-identical results on 1 and 3 threads. Tolerances as the row kernels' twins
/// (RowKernelTwinTests): a few float32 ulps of the values' scale — 2e-6 relative for outputs, 1e-5 for gradients
/// (one more reduction, in float).</summary>
public unsafe class GroupNormKernelTwinTests
{
    static void Close(float[] expected, float[] actual, float tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])),
                $"{what}: element {i} is {actual[i]}, twin says {expected[i]}");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, true)]
    [InlineData(2, 6, 7, 3, true)]
    [InlineData(3, 4, 5, 4, false)]
    [InlineData(4, 32, 196, 8, true)]    // 25k elements: parallel over (image, group)
    [InlineData(2, 64, 256, 32, false)]
    [InlineData(5, 3, 33, 1, true)]
    public void GroupNorm_equals_the_twin(int n, int c, int s, int groups, bool affine)
    {
        float[] x = TestData.Uniform((long)n * c * s, 1, -2f, 4f), w = TestData.Uniform(c, 2, 0.5f, 1.5f), b = TestData.Uniform(c, 3), dy = TestData.Uniform(x.Length, 4);
        float[] yR = new float[x.Length], yF = new float[x.Length], mR = new float[n * groups], rR = new float[n * groups], mF = new float[n * groups], rF = new float[n * groups];
        float[] dxR = TestData.Uniform(x.Length, 5), dxF = (float[])dxR.Clone(), dwR = TestData.Uniform(c, 6), dwF = (float[])dwR.Clone(), dbR = TestData.Uniform(c, 7), dbF = (float[])dbR.Clone();
        fixed (float* px = x, pw = w, pb = b, pdy = dy, pyR = yR, pyF = yF, pmR = mR, prR = rR, pmF = mF, prF = rF)
        fixed (float* pdxR = dxR, pdxF = dxF, pdwR = dwR, pdwF = dwF, pdbR = dbR, pdbF = dbF)
        {
            float* wp = affine ? pw : null, bp = affine ? pb : null;
            GroupNormReference.GroupNormForward(px, wp, bp, pyR, pmR, prR, n, c, s, groups, 1e-5f);
            GroupNormKernels.GroupNormForward(px, wp, bp, pyF, pmF, prF, n, c, s, groups, 1e-5f);
            // Both backwards from the twin's statistics, so the comparison isolates the backward.
            GroupNormReference.GroupNormBackward(px, wp, pmR, prR, pdy, pdxR, affine ? pdwR : null, affine ? pdbR : null, n, c, s, groups);
            GroupNormKernels.GroupNormBackward(px, wp, pmR, prR, pdy, pdxF, affine ? pdwF : null, affine ? pdbF : null, n, c, s, groups);
        }
        string tag = $"{n}x{c}x{s} groups {groups} affine {affine}";
        Close(yR, yF, 2e-6f, $"forward {tag}");
        Close(mR, mF, 2e-6f, $"mean {tag}");
        Close(rR, rF, 2e-6f, $"rstd {tag}");
        Close(dxR, dxF, 1e-5f, $"dx {tag}");
        Close(dwR, dwF, 1e-5f, $"dw {tag}");
        Close(dbR, dbF, 1e-5f, $"db {tag}");
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(2, 3, 5)]
    [InlineData(3, 17, 33)]
    [InlineData(8, 64, 96)]    // 49k elements: parallel over items
    public void AdaLayerNorm_equals_the_twin(int batch, int t, int c)
    {
        float[] x = TestData.Uniform((long)batch * t * c, 1, -2f, 4f), shift = TestData.Uniform((long)batch * c, 2), scale = TestData.Uniform((long)batch * c, 3, -0.5f, 0.5f);
        float[] dy = TestData.Uniform(x.Length, 4);
        float[] yR = new float[x.Length], yF = new float[x.Length], mR = new float[batch * t], rR = new float[batch * t], mF = new float[batch * t], rF = new float[batch * t];
        float[] dxR = TestData.Uniform(x.Length, 5), dxF = (float[])dxR.Clone();
        float[] dsR = TestData.Uniform(shift.Length, 6), dsF = (float[])dsR.Clone(), dcR = TestData.Uniform(scale.Length, 7), dcF = (float[])dcR.Clone();
        fixed (float* px = x, psh = shift, psc = scale, pdy = dy, pyR = yR, pyF = yF, pmR = mR, prR = rR, pmF = mF, prF = rF)
        fixed (float* pdxR = dxR, pdxF = dxF, pdsR = dsR, pdsF = dsF, pdcR = dcR, pdcF = dcF)
        {
            GroupNormReference.AdaLayerNormForward(px, psh, psc, pyR, pmR, prR, batch, t, c, 1e-6f);
            GroupNormKernels.AdaLayerNormForward(px, psh, psc, pyF, pmF, prF, batch, t, c, 1e-6f);
            GroupNormReference.AdaLayerNormBackward(px, psc, pmR, prR, pdy, pdxR, pdsR, pdcR, batch, t, c);
            GroupNormKernels.AdaLayerNormBackward(px, psc, pmR, prR, pdy, pdxF, pdsF, pdcF, batch, t, c);
        }
        string tag = $"{batch}x{t}x{c}";
        Close(yR, yF, 2e-6f, $"forward {tag}");
        Close(mR, mF, 2e-6f, $"mean {tag}");
        Close(rR, rF, 2e-6f, $"rstd {tag}");
        Close(dxR, dxF, 1e-5f, $"dx {tag}");
        Close(dsR, dsF, 1e-5f, $"dshift {tag}");
        Close(dcR, dcF, 1e-5f, $"dscale {tag}");
    }

    [Fact]
    public void Results_are_bit_identical_on_one_and_three_threads()
    {
        const int N = 6, C = 32, S = 200, G = 8, B = 8, T = 50, D = 64;
        float[] x = TestData.Uniform(N * C * S, 21, -2f, 4f), w = TestData.Uniform(C, 22, 0.5f, 1.5f), bias = TestData.Uniform(C, 23), dy = TestData.Uniform(x.Length, 24);
        float[] ax = TestData.Uniform(B * T * D, 25), sh = TestData.Uniform(B * D, 26), sc = TestData.Uniform(B * D, 27), ady = TestData.Uniform(ax.Length, 28);
        float[][] Run(ComputePool pool)
        {
            float[] y = new float[x.Length], m = new float[N * G], r = new float[N * G], dx = new float[x.Length], dw = new float[C], db = new float[C];
            float[] ay = new float[ax.Length], am = new float[B * T], ar = new float[B * T], adx = new float[ax.Length], ads = new float[sh.Length], adc = new float[sc.Length];
            fixed (float* px = x, pw = w, pb = bias, pdy = dy, py = y, pm = m, pr = r, pdx = dx, pdw = dw, pdb = db)
            fixed (float* pax = ax, psh = sh, psc = sc, pady = ady, pay = ay, pam = am, par = ar, padx = adx, pads = ads, padc = adc)
            {
                GroupNormKernels.GroupNormForward(px, pw, pb, py, pm, pr, N, C, S, G, 1e-5f, pool);
                GroupNormKernels.GroupNormBackward(px, pw, pm, pr, pdy, pdx, pdw, pdb, N, C, S, G, pool);
                GroupNormKernels.AdaLayerNormForward(pax, psh, psc, pay, pam, par, B, T, D, 1e-6f, pool);
                GroupNormKernels.AdaLayerNormBackward(pax, psc, pam, par, pady, padx, pads, padc, B, T, D, pool);
            }
            return [y, dx, dw, db, ay, adx, ads, adc];
        }
        float[][] one, three;
        using (var pool = new ComputePool(1)) one = Run(pool);
        using (var pool = new ComputePool(3)) three = Run(pool);
        for (int i = 0; i < one.Length; i++) Assert.Equal(one[i], three[i]);
    }
}
