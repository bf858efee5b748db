using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Backward passes that overwrite a gradient the pass has not touched yet must still add when a tensor is
/// reached twice (x + x, a residual that also feeds a linear layer), and must add onto a leaf's accumulated gradient.</summary>
public class GradientWriteTests
{
    static Tensor Leaf(float[] values, params int[] shape)
    {
        var t = Tensor.FromArray(values, shape);
        t.RequiresGrad = true;
        return t;
    }

    [Fact]
    public void A_tensor_on_both_sides_of_an_add_gets_both_contributions()
    {
        var x = Leaf([1f, 2f, 3f, 4f], 2, 2);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var h = Ops.Affine(x, 1.5f);                 // a tape tensor, reached twice below
            var y = Ops.Sum(Ops.Reshape(Ops.Add(h, h), 4), 0);
            tape.Backward(y);
        }
        Assert.Equal([3f, 3f, 3f, 3f], x.Grad!.ToArray());
    }

    [Fact]
    public void A_residual_feeding_a_linear_layer_sums_both_paths_and_leaves_accumulate_across_passes()
    {
        // y = sum(x + x·Wᵀ): dL/dx = 1 + column sums of W.
        float[] w = [0.5f, -1f, 2f, 0.25f];
        var x = Leaf([1f, -2f, 0.5f, 3f], 2, 2);
        var weight = Leaf(w, 2, 2);
        using var tape = new Tape();
        for (int pass = 1; pass <= 2; pass++)
        {
            tape.Reset();
            using (tape.Activate())
            {
                var h = Ops.Affine(x, 1f);
                var y = Ops.Sum(Ops.Reshape(Ops.Add(h, Ops.Linear(h, weight)), 4), 0);
                tape.Backward(y);
            }
            float[] expectedX = [pass * (1 + w[0] + w[2]), pass * (1 + w[1] + w[3]), pass * (1 + w[0] + w[2]), pass * (1 + w[1] + w[3])];
            Assert.Equal(expectedX, x.Grad!.ToArray());
            // dL/dW[o, i] = Σ_rows x[r, i], accumulated over both passes.
            Assert.Equal([pass * 1.5f, pass * 1f, pass * 1.5f, pass * 1f], weight.Grad!.ToArray());
        }
    }
}
