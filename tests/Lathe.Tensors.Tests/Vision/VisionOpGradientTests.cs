using Lathe.Tensors;

namespace Lathe.Tensors.Tests.Vision;

/// <summary>The vision ops' gradients to every input against finite differences (<see cref="Autograd.GradCheck"/>),
/// over the configurations the models use: kernels 1/3/4, stride 1/2, padding 0/1, groups 1/2, outputPadding 0/1,
/// non-square images, batch &gt; 1, with and without bias / affine parameters.</summary>
public class VisionOpGradientTests
{
    static Tensor R(int seed, params int[] shape) => Autograd.GradCheck.Random(seed, shape);

    [Theory]
    [InlineData(2, 3, 5, 6, 4, 3, 1, 1, 1, true)]
    [InlineData(1, 2, 7, 5, 3, 3, 2, 0, 1, true)]
    [InlineData(2, 4, 6, 6, 6, 4, 2, 1, 2, false)]
    [InlineData(2, 2, 4, 3, 2, 1, 1, 0, 1, true)]
    [InlineData(1, 4, 5, 4, 2, 3, 1, 1, 2, true)]
    public void Conv2d_gradients_match_finite_differences(int n, int c, int h, int w, int o, int k, int stride, int padding, int groups, bool bias)
    {
        Tensor[] inputs = bias
            ? [R(1, n, c, h, w), R(2, o, c / groups, k, k), R(3, o)]
            : [R(1, n, c, h, w), R(2, o, c / groups, k, k)];
        Autograd.GradCheck.Check(t => Ops.Conv2d(t[0], t[1], bias ? t[2] : null, stride, padding, groups), inputs);
    }

    [Theory]
    [InlineData(2, 3, 3, 4, 2, 4, 2, 1, 0, true)]
    [InlineData(1, 2, 4, 3, 3, 3, 2, 1, 1, true)]
    [InlineData(2, 3, 3, 3, 2, 3, 1, 1, 0, false)]
    [InlineData(1, 2, 2, 5, 3, 1, 1, 0, 0, true)]
    [InlineData(1, 2, 3, 2, 2, 3, 2, 0, 1, true)]
    public void ConvTranspose2d_gradients_match_finite_differences(int n, int c, int h, int w, int o, int k, int stride, int padding, int outputPadding, bool bias)
    {
        Tensor[] inputs = bias
            ? [R(4, n, c, h, w), R(5, c, o, k, k), R(6, o)]
            : [R(4, n, c, h, w), R(5, c, o, k, k)];
        Autograd.GradCheck.Check(t => Ops.ConvTranspose2d(t[0], t[1], bias ? t[2] : null, stride, padding, outputPadding), inputs);
    }

    [Theory]
    [InlineData(2, 6, 3, true)]
    [InlineData(1, 4, 1, true)]
    [InlineData(3, 4, 4, false)]
    public void GroupNorm_gradients_match_finite_differences(int n, int c, int groups, bool affine)
    {
        Tensor[] inputs = affine ? [R(7, n, c, 3, 2), R(8, c), R(9, c)] : [R(7, n, c, 3, 2)];
        Autograd.GradCheck.Check(t => Ops.GroupNorm(t[0], groups, affine ? t[1] : null, affine ? t[2] : null), inputs);
    }

    [Fact]
    public void AdaLayerNorm_gradients_match_finite_differences()
    {
        Autograd.GradCheck.Check(t => Ops.AdaLayerNorm(t[0], t[1], t[2]), [R(10, 2, 3, 5), R(11, 2, 5), R(12, 2, 5)]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CumSum_gradients_match_finite_differences(bool exclusive)
    {
        Autograd.GradCheck.Check(t => Ops.CumSum(t[0], exclusive), [R(13, 3, 2, 7)]);
    }

    [Fact]
    public void LeakyRelu_gradient_matches_finite_differences()
    {
        // Every value at least 0.05 from the kink so ±eps (1e-2) never crosses it.
        var x = R(14, 4, 9);
        var s = x.AsSpan();
        for (int i = 0; i < s.Length; i++) if (MathF.Abs(s[i]) < 0.05f) s[i] += s[i] < 0 ? -0.05f : 0.05f;
        Autograd.GradCheck.Check(t => Ops.LeakyRelu(t[0], 0.2f), [x]);
    }

    [Fact]
    public void Gradients_accumulate_when_an_input_feeds_two_ops()
    {
        // The first backward to reach a gradient overwrites it, the second adds: both paths are exercised here.
        Autograd.GradCheck.Check(t => Ops.Add(Ops.Conv2d(t[0], t[1], t[2], 1, 1), Ops.Conv2d(t[0], t[1], t[2], 1, 1)),
            [R(20, 2, 2, 4, 3), R(21, 3, 2, 3, 3), R(22, 3)]);
        Autograd.GradCheck.Check(t => Ops.Add(Ops.ConvTranspose2d(t[0], t[1], t[2], 2, 1), Ops.ConvTranspose2d(t[0], t[1], t[2], 2, 1)),
            [R(23, 2, 2, 3, 3), R(24, 2, 3, 4, 4), R(25, 3)]);
    }

    [Fact]
    public void Non_contiguous_inputs_are_read_through_their_strides()
    {
        // x stored (N, H, W, C) and viewed as (N, C, H, W): the op must copy it (and route the gradient back).
        var nhwc = R(30, 2, 4, 5, 3);
        Autograd.GradCheck.Check(t => Ops.Conv2d(Ops.Permute(t[0], 0, 3, 1, 2), t[1], null, 1, 1), [nhwc, R(31, 2, 3, 3, 3)]);
        Autograd.GradCheck.Check(t => Ops.GroupNorm(Ops.Permute(t[0], 0, 3, 1, 2), 3, null, null), [R(32, 2, 4, 5, 3)]);
        Autograd.GradCheck.Check(t => Ops.CumSum(Ops.Permute(t[0], 1, 0), exclusive: true), [R(33, 6, 4)]);
    }

    [Fact]
    public void Group_norm_over_a_sequence_and_ada_layer_norm_over_one_token()
    {
        Autograd.GradCheck.Check(t => Ops.GroupNorm(t[0], 2, t[1], t[2]), [R(40, 2, 4, 7), R(41, 4), R(42, 4)]);
        Autograd.GradCheck.Check(t => Ops.AdaLayerNorm(t[0], t[1], t[2]), [R(43, 3, 1, 8), R(44, 3, 8), R(45, 3, 8)]);
    }
}
