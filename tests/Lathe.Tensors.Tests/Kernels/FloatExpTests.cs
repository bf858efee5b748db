using System.Runtime.Intrinsics;
using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The single-precision vector exp against Math.Exp in double, in units in the last place of the float
/// result: dense over [−104, 89] (normal, subnormal and overflowing results), plus the special values.</summary>
public class FloatExpTests
{
    [Fact]
    public void Is_within_two_ulp_of_the_double_exp_over_the_float_range()
    {
        if (!FloatExp.IsSupported) return;   // AVX-512 F only; the kernels fall back to Vector512.Exp elsewhere
        var x = new float[16];
        double worst = 0;
        for (float v = -104f; v < 89f; v += 16 * 1.7e-4f)
        {
            for (int i = 0; i < 16; i++) x[i] = v + i * 1.7e-4f;
            var y = FloatExp.Exp(Vector512.Create(x));
            for (int i = 0; i < 16; i++)
            {
                double want = Math.Exp(x[i]);
                float got = y[i];
                if (want > float.MaxValue) { Assert.Equal(float.PositiveInfinity, got); continue; }
                // One ulp of the float nearest to the true value (the subnormal spacing below the normal range).
                float w = (float)want;
                double ulp = Math.Pow(2, Math.Max(-149, Math.ILogB(w) - 23));
                double err = Math.Abs(got - want) / ulp;
                worst = Math.Max(worst, err);
                Assert.True(err <= 2, $"exp({x[i]:R}) = {got:R}, want {want:R} ({err:F2} ulp)");
            }
        }
        Assert.True(worst > 0.3, "the sweep compared real values");
    }

    [Fact]
    public void Special_values()
    {
        if (!FloatExp.IsSupported) return;
        float[] x = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 89f, -104f, 1f, -1f, 1e-30f, 88.72283f, -87.33655f, 100f, -200f, 0.5f, 2f];
        var y = FloatExp.Exp(Vector512.Create(x));
        Assert.Equal(1f, y[0]);
        Assert.Equal(1f, y[1]);
        Assert.Equal(float.PositiveInfinity, y[2]);
        Assert.Equal(0f, y[3]);
        Assert.True(float.IsNaN(y[4]));
        Assert.Equal(float.PositiveInfinity, y[5]);
        Assert.Equal(0f, y[6]);
        Assert.Equal(MathF.E, y[7], 6);
        Assert.Equal(1f, y[9]);
        Assert.Equal(float.PositiveInfinity, y[12]);
        Assert.Equal(0f, y[13]);
    }
}
