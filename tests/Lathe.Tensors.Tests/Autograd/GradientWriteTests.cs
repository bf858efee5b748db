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

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Cross_entropy_and_token_log_probs_write_a_fresh_logits_gradient_and_add_to_a_touched_one(bool tokenLogProbs)
    {
        // Logits (3, 5) from a tape op, row 1 ignored. Pass 1 alone; pass 2 on the same tape slots (their gradients
        // hold pass 1's values, which must not leak); pass 3 with the logits also summed, so the second contribution
        // (+1 everywhere) must add to the first.
        var x = Leaf([0.1f, -2f, 0.5f, 1f, 0f, 3f, 1f, -1f, 0.2f, 0.3f, -0.5f, 0.25f, 2f, -1f, 0.75f], 3, 5);
        int[] targets = [2, -100, 4];
        using var tape = new Tape();
        float[] Pass(bool alsoSum)
        {
            tape.Reset();
            using (tape.Activate())
            {
                var logits = Ops.Affine(x, 2f);
                var loss = tokenLogProbs ? Ops.Sum(Ops.TokenLogProbs(logits, targets), 0) : Ops.CrossEntropy(logits, targets);
                if (alsoSum) loss = Ops.Add(loss, Ops.Sum(Ops.Reshape(logits, 15), 0));
                tape.Backward(loss);
                return logits.Grad!.ToArray();
            }
        }
        var first = Pass(false);
        Assert.Equal(first, Pass(false));
        Assert.All(first.AsSpan(5, 5).ToArray(), v => Assert.Equal(0f, v));   // the ignored row
        var both = Pass(true);
        for (int i = 0; i < 15; i++) Assert.Equal(first[i] + 1f, both[i], 6);
        // The written values are ±(softmax − onehot) (scaled by 1/2 kept rows for the mean loss).
        var xs = x.ToArray();
        double z = 0;
        for (int j = 0; j < 5; j++) z += Math.Exp(2 * xs[j]);
        double want = (tokenLogProbs ? -1 : 0.5) * (Math.Exp(2 * xs[2]) / z - 1);
        Assert.Equal(want, first[2], 5);
    }
}
