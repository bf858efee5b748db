using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The vectorized erf GELU against its double-precision scalar twin (<see cref="UnaryKernels"/>) over the
/// whole float range that matters: dense in [−12, 12] (the tails, where Φ is computed from erfc), the polynomial's
/// clamp at |x| = 10·√2, ±0, infinities and NaN.</summary>
public unsafe class GeluErfKernelTests
{
    // The fit's own error is 7e-8·(1 + |y|) (scripts/fits/fit_erfc.py); float rounding of a², t and exp adds a few ulps.
    const float ForwardTolerance = 3e-7f, BackwardTolerance = 5e-7f;

    [Fact]
    public void Matches_the_double_precision_twin_from_minus_12_to_12()
    {
        const int n = 240_001;   // steps of 1e-4, several chunks (threaded)
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -12f + i * 1e-4f;
        Check(x);
    }

    [Fact]
    public void Handles_the_clamp_zeros_and_odd_lengths()
    {
        float big = 10f * MathF.Sqrt(2f);
        float[] x = [0f, -0f, big, -big, big + 1e-3f, -big - 1e-3f, 30f, -30f, 1e-30f, -1e-30f, 0.5f, -0.5f, 3f];
        Check(x);
        for (int n = 0; n <= 33; n++) Check(TestData.Uniform(n, n, -6f, 6f));
    }

    [Fact]
    public void Infinities_and_NaN_propagate_like_the_twin()
    {
        float[] x = [float.PositiveInfinity, float.NaN];
        var y = new float[x.Length];
        fixed (float* px = x, py = y) ElementwiseKernels.Forward(ElementwiseKernels.GeluErf, px, py, x.Length);
        Assert.Equal(float.PositiveInfinity, y[0]);
        Assert.True(float.IsNaN(y[1]));
    }

    [Fact]
    public void Backward_from_the_forward_output_holds_near_zero_and_in_both_tails()
    {
        // The vector backward takes Φ(x) = y/x from the forward's output (a Taylor step for |x| < 2⁻¹⁰): checked
        // against the double-precision twin where that is delicate — exact zero, tiny |x| on both sides of the
        // switch, and tails where y is subnormal or zero.
        float[] special = [0f, -0f, 1e-30f, -1e-30f, 1e-6f, -3e-4f, 9.7e-4f, -9.8e-4f, 1e-3f, -1.1e-3f, 2e-3f, -13.5f, -14f, 14f];
        var x = new float[48_000];                 // a multiple of 16: every value takes the vector path
        special.CopyTo(x, 0);
        for (int i = special.Length; i < x.Length; i++) x[i] = -14f + i * (28f / x.Length);
        Check(x);
    }

    [Fact]
    public void Overwrite_writes_what_accumulating_into_zeros_gives()
    {
        // A first writer's gradient holds garbage (NaN here): overwrite must not read it, for the erf GELU (which
        // writes directly) and for a kind that clears its chunk first (tanh), on a length with a vector remainder.
        const int n = 100_003;
        var x = TestData.Uniform(n, 21, -8f, 8f);
        var dy = TestData.Uniform(n, 22, -2f, 2f);
        foreach (int kind in new[] { ElementwiseKernels.GeluErf, ElementwiseKernels.Tanh })
        {
            var y = new float[n];
            float[] added = new float[n], written = new float[n];
            Array.Fill(written, float.NaN);
            fixed (float* px = x, py = y, pdy = dy, pa = added, pw = written)
            {
                ElementwiseKernels.Forward(kind, px, py, n);
                ElementwiseKernels.Backward(kind, px, py, pdy, pa, n);
                ElementwiseKernels.Backward(kind, px, py, pdy, pw, n, overwrite: true);
            }
            for (int i = 0; i < n; i++) Assert.True(added[i] == written[i], $"kind {kind}, x = {x[i]}: {written[i]} vs {added[i]}");
        }
    }

    static void Check(float[] x)
    {
        int n = x.Length;
        var dy = TestData.Uniform(n, 7, -2f, 2f);
        float[] y1 = new float[n], y2 = new float[n], d1 = TestData.Uniform(n, 3, -1f, 1f), d2 = (float[])d1.Clone();
        fixed (float* px = x, py1 = y1, py2 = y2, pdy = dy, pd1 = d1, pd2 = d2)
        {
            UnaryKernels.Forward(ElementwiseKernels.GeluErf, px, py1, n);
            ElementwiseKernels.Forward(ElementwiseKernels.GeluErf, px, py2, n);
            UnaryKernels.Backward(ElementwiseKernels.GeluErf, px, py1, pdy, pd1, n);
            ElementwiseKernels.Backward(ElementwiseKernels.GeluErf, px, py2, pdy, pd2, n);
        }
        for (int i = 0; i < n; i++)
        {
            Assert.True(Math.Abs(y1[i] - y2[i]) <= ForwardTolerance * (1 + Math.Abs(y1[i])), $"GELU({x[i]}) = {y2[i]}, twin {y1[i]}");
            Assert.True(Math.Abs(d1[i] - d2[i]) <= BackwardTolerance * (1 + Math.Abs(d1[i])), $"GELU'({x[i]}) gives dx {d2[i]}, twin {d1[i]}");
        }
    }
}
