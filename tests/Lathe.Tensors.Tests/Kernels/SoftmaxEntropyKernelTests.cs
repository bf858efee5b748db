using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Kernels;

/// <summary>The row exp-sum and the softmax-entropy kernel against double-precision twins, at widths that leave every
/// tail length of a 16-lane vector, on flat, spread and peaked rows.</summary>
public unsafe class SoftmaxEntropyKernelTests
{
    static float[] Row(int width, float spread, int seed, bool peaked)
    {
        var rng = new Random(seed);
        var x = new float[width];
        for (int j = 0; j < width; j++) x[j] = (float)(rng.NextDouble() - 0.5) * spread;
        if (peaked) x[rng.Next(width)] += 30f;   // one word takes nearly all the mass: H near 0
        return x;
    }

    public static TheoryData<int> Widths => new() { 1, 2, 15, 16, 17, 31, 50, 257, 8192 };

    [Theory]
    [MemberData(nameof(Widths))]
    public void The_exp_sum_matches_the_double_twin_in_place_and_out(int width)
    {
        var x = Row(width, 20f, width, peaked: false);
        float shift = x.Max();
        double want = 0;
        var e = new double[width];
        // The kernel rounds u = x − shift to float first; from there e must be within 2 ulp (FloatExp).
        for (int j = 0; j < width; j++) want += e[j] = Math.Exp((float)(x[j] - shift));
        var outOfPlace = new float[width];
        float sum = FloatExp.ExpShiftedSum(x, shift, outOfPlace);
        // The float sum adds ~log₂(width/16) roundings.
        Assert.True(Math.Abs(sum - want) <= 1e-6 * want * Math.Max(1, Math.Log2(width)), $"sum {sum:R}, want {want:R}");
        for (int j = 0; j < width; j++) Assert.True(Math.Abs(outOfPlace[j] - e[j]) <= 4e-7 * e[j] + 1e-45, $"e[{j}] = {outOfPlace[j]:R}, want {e[j]:R}");
        var inPlace = (float[])x.Clone();
        Assert.Equal(sum, FloatExp.ExpShiftedSum(inPlace, shift, inPlace));
        Assert.Equal(outOfPlace, inPlace);
    }

    [Theory]
    [MemberData(nameof(Widths))]
    public void Row_entropies_match_the_double_twin(int width)
    {
        const int rows = 6;
        var logits = new float[rows * width];
        for (int r = 0; r < rows; r++)
            Row(width, r % 3 == 0 ? 0.01f : 8f, 100 * width + r, peaked: r % 3 == 2).CopyTo(logits, r * width);
        float[] mask = [1f, 0f, 1f, 0.5f, 1f, 1f];
        var h = new float[rows];
        Array.Fill(h, float.NaN);
        fixed (float* x = logits) fixed (float* m = mask) fixed (float* o = h)
            SoftmaxEntropyKernel.Rows(x, rows, width, m, o);
        Assert.Equal(0f, h[1]);   // a masked row is not computed
        for (int r = 0; r < rows; r++)
        {
            if (mask[r] == 0f) continue;
            double want = SoftmaxEntropyKernel.RowReference(logits.AsSpan(r * width, width));
            // Float sums of ≤ 8,192 terms: relative error ~1e-6 of each sum, so ~1e-6 of log V in H.
            Assert.True(Math.Abs(h[r] - want) <= 2e-6 * Math.Max(1, Math.Log(width)), $"row {r}: H = {h[r]:R}, want {want:R}");
        }
        if (width > 1) Assert.True(h[0] > 0.99 * Math.Log(width), "a flat row has entropy near log V");
        if (width > 16) Assert.True(h[2] < 1e-3, "a peaked row has entropy near 0");
    }
}
