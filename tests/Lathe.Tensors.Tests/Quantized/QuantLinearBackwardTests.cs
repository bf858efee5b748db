using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Tensors.Tests.Kernels;

namespace Lathe.Tensors.Tests.Quantized;

/// <summary>The backward of <see cref="Ops.QuantLinear"/> (QLoRA's path through a frozen quantized base): the input
/// gradient is dy·W over the DEQUANTIZED weight, checked against a float64 product of dy with the rows
/// <see cref="QuantizedMatrix.DequantizeRow"/> decodes, and against the F32 <see cref="Ops.Linear"/> backward over
/// that matrix. (Finite differences through the quantized forward would measure the activations' Q8_0 rounding steps,
/// not the gradient, so the oracle is the linear map's own transpose.)</summary>
public class QuantLinearBackwardTests
{
    [Theory]
    [InlineData(QuantType.Q8_0, 5, 64, 48, true)]
    [InlineData(QuantType.Q4_0, 5, 64, 48, true)]
    [InlineData(QuantType.F16, 5, 64, 48, false)]
    [InlineData(QuantType.Q8_0, 3, 4096, 150, false)]   // PanelRows(4096) = 64: three panels, the last partial
    [InlineData(QuantType.Q4_0, 40, 1024, 272, true)]   // panel of 256 rows + 16; M ≥ 32 takes the packed forward
    public void Input_and_bias_gradients_match_the_dequantized_matrix(QuantType type, int m, int k, int n, bool withBias)
    {
        using var w = QuantizedMatrix.FromFloat(TestData.Uniform((long)n * k, 1), n, k, type);
        float[] wd = Dequantized(w);
        using var x = Tensor.FromArray(TestData.Uniform((long)m * k, 2), m, k);
        using var bias = withBias ? Tensor.FromArray(TestData.Uniform(n, 3), n) : null;
        float[] dy = TestData.Uniform((long)m * n, 4);
        x.RequiresGrad = true;
        if (bias is not null) bias.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = Ops.QuantLinear(x, w, bias);
            using var g = Tensor.FromArray(dy, m, n);
            tape.Backward(y, g);
        }
        float[] dx = x.Grad!.ToArray();
        // float64 oracle: dx[i, j] = Σ_r dy[i, r]·W[r, j].
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++)
            {
                double s = 0;
                for (int r = 0; r < n; r++) s += (double)dy[i * n + r] * wd[(long)r * k + j];
                worst = Math.Max(worst, Math.Abs(s - dx[(long)i * k + j]) / (1 + Math.Abs(s)));
            }
        Assert.True(worst <= 1e-5, $"dx: max relative error {worst:G3}");
        if (bias is not null)
        {
            float[] db = bias.Grad!.ToArray();
            for (int r = 0; r < n; r++)
            {
                double s = 0;
                for (int i = 0; i < m; i++) s += dy[i * n + r];
                Assert.True(Math.Abs(s - db[r]) <= 1e-5 * (1 + Math.Abs(s)), $"db[{r}]: {db[r]} vs {s}");
            }
        }
    }

    [Fact]
    public void Gradients_equal_the_F32_linear_backward_and_accumulate_over_uses()
    {
        // x feeds two quantized products and a float one: its gradient is their sum (the second use accumulates).
        const int k = 96, n = 32;
        using var w = QuantizedMatrix.FromFloat(TestData.Uniform((long)n * k, 5), n, k, QuantType.Q4_0);
        using var wf = Tensor.FromArray(Dequantized(w), n, k);
        float[] xs = TestData.Uniform((long)2 * 3 * k, 6);
        float[] viaQuant = Grad(xs, x => Ops.Add(Ops.QuantLinear(x, w), Ops.Scale(Ops.QuantLinear(x, w), 0.5f)));
        float[] viaFloat = Grad(xs, x => Ops.Add(Ops.Linear(x, wf), Ops.Scale(Ops.Linear(x, wf), 0.5f)));
        for (int i = 0; i < viaFloat.Length; i++)
            Assert.True(Math.Abs(viaFloat[i] - viaQuant[i]) <= 1e-5 * (1 + Math.Abs(viaFloat[i])), $"dx[{i}]: {viaQuant[i]} vs {viaFloat[i]}");
    }

    [Fact]
    public void A_frozen_quantized_product_records_nothing_when_no_input_needs_a_gradient()
    {
        using var w = QuantizedMatrix.FromFloat(TestData.Uniform(32 * 64, 7), 32, 64, QuantType.Q8_0);
        using var x = Tensor.FromArray(TestData.Uniform(2 * 64, 8), 2, 64);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = Ops.QuantLinear(x, w);
            Assert.False(y.NeedsGrad);
        }
    }

    static float[] Grad(float[] xs, Func<Tensor, Tensor> f)
    {
        using var x = Tensor.FromArray(xs, 2, 3, xs.Length / 6);
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = f(x);
            using var g = Tensor.FromArray(TestData.Uniform(y.Length, 9), y.Shape);
            tape.Backward(y, g);
        }
        return x.Grad!.ToArray();
    }

    static float[] Dequantized(QuantizedMatrix w)
    {
        var all = new float[(long)w.Rows * w.Columns];
        for (int r = 0; r < w.Rows; r++) w.DequantizeRow(r, all.AsSpan(r * w.Columns, w.Columns));
        return all;
    }
}
