using Lathe.Tensors;
using Lathe.Tensors.Tests.Autograd;

namespace Lathe.Tensors.Tests.Vision;

/// <summary>The vision ops against PyTorch (Fixtures/make_vision_op_fixtures.py: float64 reference from float32
/// inputs): output and the gradient of every input, within <see cref="TorchFixture"/>'s tolerances (1e-5 relative for
/// outputs, 5e-5 for gradients). Each case's integer arguments are read from its "params" tensor.</summary>
public class VisionOpFixtureTests
{
    static readonly TorchFixture Torch = new("vision_ops.safetensors");
    static int[] Params(string name) => Torch.File.ReadInts($"{name}.params");
    static bool Has(string name) => Torch.File.Entries.ContainsKey(name);

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)]
    public void Conv2d_matches_PyTorch(int i)
    {
        string name = $"conv2d_{i}";
        int[] p = Params(name);
        if (Has($"{name}.b")) Torch.Check(name, ["x", "w", "b"], t => Ops.Conv2d(t[0], t[1], t[2], p[0], p[1], p[2]));
        else Torch.Check(name, ["x", "w"], t => Ops.Conv2d(t[0], t[1], null, p[0], p[1], p[2]));
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)] [InlineData(5)]
    public void ConvTranspose2d_matches_PyTorch(int i)
    {
        string name = $"conv_transpose2d_{i}";
        int[] p = Params(name);
        if (Has($"{name}.b")) Torch.Check(name, ["x", "w", "b"], t => Ops.ConvTranspose2d(t[0], t[1], t[2], p[0], p[1], p[2]));
        else Torch.Check(name, ["x", "w"], t => Ops.ConvTranspose2d(t[0], t[1], null, p[0], p[1], p[2]));
    }

    [Theory]
    [InlineData(0)] [InlineData(1)] [InlineData(2)] [InlineData(3)] [InlineData(4)]
    public void GroupNorm_matches_PyTorch(int i)
    {
        string name = $"group_norm_{i}";
        int[] p = Params(name);
        if (p[1] == 1) Torch.Check(name, ["x", "w", "b"], t => Ops.GroupNorm(t[0], p[0], t[1], t[2]));
        else Torch.Check(name, ["x"], t => Ops.GroupNorm(t[0], p[0], null, null));
    }

    [Theory]
    [InlineData(0)] [InlineData(1)]
    public void AdaLayerNorm_matches_PyTorch(int i)
        => Torch.Check($"ada_layer_norm_{i}", ["x", "shift", "scale"], t => Ops.AdaLayerNorm(t[0], t[1], t[2]));

    [Theory]
    [InlineData("cumsum_0")] [InlineData("cumsum_1")] [InlineData("cumsum_exclusive_0")] [InlineData("cumsum_exclusive_1")]
    public void CumSum_matches_PyTorch(string name)
        => Torch.Check(name, ["x"], t => Ops.CumSum(t[0], exclusive: Params(name)[0] == 1));

    [Fact]
    public void LeakyRelu_matches_PyTorch_including_the_gradient_at_zero()
        => Torch.Check("leaky_relu", ["x"], t => Ops.LeakyRelu(t[0], 0.2f));
}
