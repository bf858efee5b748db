using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>ReLU (T5's DenseReluDense activation): forward against the obvious scalar twin at every length
/// 0..70 (SIMD body and remainders), and the gradient by finite differences away from the kink.</summary>
public class ReluOpTests
{
    [Fact]
    public void Forward_equals_the_scalar_twin_at_every_length()
    {
        for (int n = 0; n <= 70; n++)
        {
            using var x = GradCheck.Random(n + 1, Math.Max(n, 1));
            float[] input = x.ToArray();
            using var y = Ops.Relu(x);
            float[] got = y.ToArray();
            for (int i = 0; i < input.Length; i++) Assert.Equal(input[i] > 0 ? input[i] : 0f, got[i]);
        }
    }

    [Fact]
    public void Gradient_matches_finite_differences()
    {
        // Keep every value at least 0.05 from the kink so ±eps (1e-2) never crosses it.
        var x = GradCheck.Random(3, 4, 33);
        var s = x.AsSpan();
        for (int i = 0; i < s.Length; i++) if (MathF.Abs(s[i]) < 0.05f) s[i] += s[i] < 0 ? -0.05f : 0.05f;
        GradCheck.Check(t => Ops.Relu(t[0]), [x]);
        float[] g = x.Grad!.ToArray();
        Assert.Contains(0f, g);   // the negative half really stops the gradient
    }

    [Fact]
    public void Zero_passes_no_gradient_like_PyTorch()
    {
        using var x = Tensor.Parameter([0f, -1f, 2f], 3);
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Relu(x)));
        Assert.Equal([0f, 0f, 1f], x.Grad!.ToArray());
    }
}
