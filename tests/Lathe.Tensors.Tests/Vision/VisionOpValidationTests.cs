using Lathe.Tensors;

namespace Lathe.Tensors.Tests.Vision;

/// <summary>Bad shapes and arguments to the vision ops: an ArgumentException that names the op and the shapes.</summary>
public class VisionOpValidationTests
{
    static void Rejects(string op, string shape, Action call)
    {
        var e = Assert.Throws<ArgumentException>(call);
        Assert.Contains(op, e.Message);
        Assert.Contains(shape, e.Message);
    }

    static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    [Fact]
    public void Conv2d_rejects_bad_shapes()
    {
        Rejects("Conv2d", "(2, 3, 5)", () => Ops.Conv2d(Z(2, 3, 5), Z(4, 3, 3, 3), null));                          // x not rank 4
        Rejects("Conv2d", "(4, 2, 3, 3)", () => Ops.Conv2d(Z(1, 3, 5, 5), Z(4, 2, 3, 3), null));                    // C mismatch
        Rejects("Conv2d", "(5, 2, 3, 3)", () => Ops.Conv2d(Z(1, 4, 5, 5), Z(5, 2, 3, 3), null, groups: 2));         // O % groups
        Rejects("Conv2d", "(3, 3, 1, 1)", () => Ops.Conv2d(Z(1, 3, 5, 5), Z(3, 3, 1, 1), null, groups: 2));         // C % groups
        Rejects("Conv2d", "bias (5,)", () => Ops.Conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), Z(5)));                        // bias length
        Rejects("Conv2d", "(1, 3, 2, 5)", () => Ops.Conv2d(Z(1, 3, 2, 5), Z(4, 3, 3, 3), null));                    // kernel taller than image
        Rejects("Conv2d", "stride 0", () => Ops.Conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), null, stride: 0));
        Rejects("Conv2d", "padding -1", () => Ops.Conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), null, padding: -1));
    }

    [Fact]
    public void ConvTranspose2d_rejects_bad_shapes()
    {
        Rejects("ConvTranspose2d", "(2, 4, 3, 3)", () => Ops.ConvTranspose2d(Z(1, 3, 4, 4), Z(2, 4, 3, 3), null));        // C mismatch
        Rejects("ConvTranspose2d", "bias (3,)", () => Ops.ConvTranspose2d(Z(1, 3, 4, 4), Z(3, 2, 3, 3), Z(3)));            // bias length
        Rejects("ConvTranspose2d", "outputPadding 2", () => Ops.ConvTranspose2d(Z(1, 3, 4, 4), Z(3, 2, 4, 4), null, 2, 1, 2)); // ≥ stride
        Rejects("ConvTranspose2d", "(1, 3, 1, 1)", () => Ops.ConvTranspose2d(Z(1, 3, 1, 1), Z(3, 2, 1, 1), null, 1, 1));  // empty output
        Rejects("ConvTranspose2d", "(3, 2, 4)", () => Ops.ConvTranspose2d(Z(1, 3, 4, 4), Z(3, 2, 4), null));
    }

    [Fact]
    public void Norms_and_scans_reject_bad_shapes()
    {
        Rejects("GroupNorm", "(2, 6, 4)", () => Ops.GroupNorm(Z(2, 6, 4), 4, null, null));                 // C % groups
        Rejects("GroupNorm", "weight (5,)", () => Ops.GroupNorm(Z(2, 6, 4), 3, Z(5), null));
        Rejects("GroupNorm", "(6,)", () => Ops.GroupNorm(Z(6), 3, null, null));
        Rejects("AdaLayerNorm", "shift (2, 4)", () => Ops.AdaLayerNorm(Z(2, 3, 5), Z(2, 4), Z(2, 5)));
        Rejects("AdaLayerNorm", "scale (3, 5)", () => Ops.AdaLayerNorm(Z(2, 3, 5), Z(2, 5), Z(3, 5)));
        Rejects("AdaLayerNorm", "x (6, 5)", () => Ops.AdaLayerNorm(Z(6, 5), Z(6, 5), Z(6, 5)));
        Rejects("CumSum", "scalar", () => Ops.CumSum(Tensor.Full(1f)));
    }

    [Fact]
    public void Edge_values_follow_PyTorch()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f, 4f], 2, 2);
        Assert.Equal([1f, 3f, 3f, 7f], Ops.CumSum(x).ToArray());
        Assert.Equal([0f, 1f, 0f, 3f], Ops.CumSum(x, exclusive: true).ToArray());
        using var l = Tensor.FromArray([-2f, 0f, 3f], 3);
        Assert.Equal([-0.2f, 0f, 3f], Ops.LeakyRelu(l, 0.1f).ToArray());
        // GroupNorm of a constant group is 0 (then the bias): var = 0, so (x − μ)·rstd = 0 with rstd = 1/√eps finite.
        using var c = Tensor.Full(2.5f, 1, 2, 3);
        Assert.All(Ops.GroupNorm(c, 1, null, Tensor.FromArray([0.5f, -1f], 2)).ToArray().Take(3), v => Assert.Equal(0.5f, v));
    }
}
