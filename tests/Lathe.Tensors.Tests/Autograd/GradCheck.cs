using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Finite-difference check of an op's wiring: the loss is Σ f(inputs)·W for a fixed random W, summed
/// in double; each input element is nudged by ±eps and the central difference compared with the gradient
/// the tape computed. Float32 forwards make eps = 1e-2 the sweet spot: round-off in the loss is ~1e-7 of
/// its terms, so the difference quotient carries ~1e-5 noise, and truncation is O(eps²·f''') — zero for the
/// (bi)linear ops and small for the smooth ones. Kernels' own numerical accuracy is tested in double by
/// their kernel tests; this checks that the op routes the right gradient to the right place.</summary>
internal static class GradCheck
{
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double tolerance = 2e-3, double eps = 1e-2, int seed = 1)
    {
        foreach (var x in inputs) { x.RequiresGrad = true; x.ZeroGrad(); }
        using var tape = new Tape();
        float[] weights;
        using (tape.Activate())
        {
            var y = f(inputs);
            var rng = new Random(seed);
            weights = new float[y.Length];
            for (int i = 0; i < weights.Length; i++) weights[i] = (float)(rng.NextDouble() * 2 - 1);
            using var w = Tensor.FromArray(weights, y.Shape);
            var loss = Ops.SumAll(Ops.Mul(y, w));
            tape.Backward(loss);
        }
        for (int n = 0; n < inputs.Length; n++)
        {
            var x = inputs[n];
            Assert.NotNull(x.Grad);
            float[] analytic = x.Grad!.ToArray();
            var data = x.AsSpan();
            for (int i = 0; i < x.Length; i++)
            {
                float saved = data[i];
                data[i] = saved + (float)eps;
                double plus = Loss(f, inputs, weights, tape);
                data[i] = saved - (float)eps;
                double minus = Loss(f, inputs, weights, tape);
                data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                double err = Math.Abs(numeric - analytic[i]);
                Assert.True(err <= tolerance * (1 + Math.Abs(numeric)),
                    $"input {n} element {i}: analytic {analytic[i]:G6}, numeric {numeric:G6} (|diff| {err:G3})");
            }
        }
    }

    static double Loss(Func<Tensor[], Tensor> f, Tensor[] inputs, float[] weights, Tape tape)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var y = f(inputs).ToArray();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += (double)y[i] * weights[i];
            return s;
        }
    }

    public static Tensor Random(int seed, params int[] shape) => Random(seed, -1f, 1f, shape);

    public static Tensor Random(int seed, float lo, float hi, params int[] shape)
    {
        var rng = new Random(seed);
        var t = Tensor.Zeros(shape);
        var s = t.AsSpan();
        for (int i = 0; i < s.Length; i++) s[i] = lo + (float)rng.NextDouble() * (hi - lo);
        return t;
    }
}
