using Lathe.Tensors.Autograd;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary><see cref="Ops.AddLowRank"/> (LoRA's fused update): finite-difference gradients of all four inputs, and
/// forward and gradients equal to its composed twin Add(y, Linear(Scale(Linear(x, A), s), B)).</summary>
public class AddLowRankTests
{
    static Tensor T(int seed, params int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return Tensor.FromArray(TestData.Uniform(n, seed), shape);
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        using Tensor y = T(1, 2, 3, 5), x = T(2, 2, 3, 4), a = T(3, 2, 4), b = T(4, 5, 2);
        GradCheck.Check(t => Ops.AddLowRank(t[0], t[1], t[2], t[3], 1.5f), [y, x, a, b]);
    }

    [Theory]
    [InlineData(7, 48, 40, 4)]
    [InlineData(300, 64, 96, 8)]      // blocked GEMM sizes
    [InlineData(1, 32, 16, 1)]
    public void Forward_and_gradients_equal_the_composed_ops(int rows, int k, int n, int r)
    {
        float[] fused = Run(true, rows, k, n, r, out var fusedGrads), composed = Run(false, rows, k, n, r, out var composedGrads);
        for (int i = 0; i < fused.Length; i++)
            Assert.True(Math.Abs(fused[i] - composed[i]) <= 1e-5 * (1 + Math.Abs(composed[i])), $"y[{i}]: {fused[i]} vs {composed[i]}");
        for (int t = 0; t < 4; t++)
            for (int i = 0; i < fusedGrads[t].Length; i++)
                Assert.True(Math.Abs(fusedGrads[t][i] - composedGrads[t][i]) <= 1e-4 * (1 + Math.Abs(composedGrads[t][i])), $"input {t} grad[{i}]: {fusedGrads[t][i]} vs {composedGrads[t][i]}");
    }

    [Fact]
    public void Overwriting_the_base_output_gives_the_same_bits_and_shares_its_memory()
    {
        // overwriteY: the update goes into y's own memory (a projection's fresh output, read by no backward); output and
        // every gradient equal the copying path bit for bit.
        float[] copied = Run(true, 33, 48, 40, 4, out var copiedGrads, overwrite: false);
        float[] inPlace = Run(true, 33, 48, 40, 4, out var inPlaceGrads, overwrite: true, checkShared: true);
        Assert.Equal(copied, inPlace);
        for (int t = 0; t < 4; t++) Assert.Equal(copiedGrads[t], inPlaceGrads[t]);
    }

    static unsafe float[] Run(bool fused, int rows, int k, int n, int r, out float[][] grads, bool overwrite = false, bool checkShared = false)
    {
        using Tensor x = T(5, rows, k), a = T(6, r, k), b = T(7, n, r), w = T(8, n, k);
        foreach (var p in new[] { x, a, b, w }) p.RequiresGrad = true;
        using var tape = new Tape();
        float[] output;
        using (tape.Activate())
        {
            var y = Ops.Linear(x, w);   // x feeds the base too: its gradient sums both paths
            var result = fused ? Ops.AddLowRank(y, x, a, b, 0.7f, overwrite) : Ops.Add(y, Ops.Linear(Ops.Scale(Ops.Linear(x, a), 0.7f), b));
            if (checkShared) Assert.True(result.Data == y.Data, "the result should be a view of y's memory");
            output = result.ToArray();
            using var g = T(9, rows, n);
            tape.Backward(result, g);
        }
        grads = [x.Grad!.ToArray(), a.Grad!.ToArray(), b.Grad!.ToArray(), w.Grad!.ToArray()];
        return output;
    }
}
