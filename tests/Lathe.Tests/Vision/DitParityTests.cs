using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Layers;

namespace Lathe.Tests.Vision;

/// <summary>The DiT and its block against an independent PyTorch float64 implementation written from the paper
/// (fixtures/make_dit_fixtures.py): outputs, the MSE loss and every parameter's gradient on fixed non-zero weights, for a
/// class-conditional model with patch 2 and an unconditional one with patch 1; plus finite differences on the model.</summary>
public class DitParityTests
{
    // float32 through a few pre-LN blocks vs float64: 2e-5 relative for outputs, 1e-4 for gradients (as the LM parity tests).
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", name);

    static DitConfig Config(SafetensorsFile e) => new()
    {
        InChannels = int.Parse(e.Metadata["in_channels"]), InputSize = int.Parse(e.Metadata["input_size"]), PatchSize = int.Parse(e.Metadata["patch_size"]),
        HiddenSize = int.Parse(e.Metadata["hidden_size"]), Depth = int.Parse(e.Metadata["depth"]), Heads = int.Parse(e.Metadata["num_heads"]),
        Classes = int.Parse(e.Metadata["num_classes"]), FrequencySize = int.Parse(e.Metadata["frequency_embedding_size"]),
    };

    internal static (DitModel Model, SafetensorsFile Expected) Load(string name)
    {
        var expected = SafetensorsFile.Open(Fixture(name + ".expected.safetensors"));
        var model = new DitModel(Config(expected));
        VisionCheckpoint.LoadWeights(Fixture(name + ".model.safetensors"), model.Parameters);
        return (model, expected);
    }

    static Tensor Loss(DitModel model, Tensor x, int[] t, int[] labels, Tensor target)
    {
        var d = Ops.Sub(model.PredictNoise(x, t, labels), target);
        return Ops.MeanAll(Ops.Mul(d, d));
    }

    [Theory]
    [InlineData("dit-p2")]
    [InlineData("dit-p1")]
    public void Dit_matches_PyTorch_output_loss_and_every_gradient(string name)
    {
        var (model, expected) = Load(name);
        using var _ = model;
        using var __ = expected;
        int C = model.Channels, S = model.Height;
        using var x = Tensor.FromArray(expected.ReadFloats("x"), 3, C, S, S);
        using var target = Tensor.FromArray(expected.ReadFloats("target"), 3, C, S, S);
        int[] t = expected.ReadInts("t"), labels = expected.ReadInts("labels");
        if (model.IsConditional) Assert.Contains(model.NullLabel, labels);   // the null class is exercised
        using var tape = new Tape();
        using (tape.Activate())
        {
            var output = model.PredictNoise(x, t, labels);
            ModelParityTests.AssertClose("out", expected.ReadFloats("out"), output.ToArray(), ForwardTolerance);
            tape.Reset();
            var loss = Loss(model, x, t, labels, target);
            ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss.Item()], ForwardTolerance);
            tape.Backward(loss);
        }
        foreach (var p in model.Parameters)
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), model.Parameters.Count);
    }

    [Fact]
    public void Dit_gradients_match_finite_differences()
    {
        var (model, expected) = Load("dit-p2");
        using var _ = model;
        using var __ = expected;
        using var x = Tensor.FromArray(expected.ReadFloats("x"), 3, 4, 4, 4);
        using var target = Tensor.FromArray(expected.ReadFloats("target"), 3, 4, 4, 4);
        int[] t = expected.ReadInts("t"), labels = expected.ReadInts("labels");
        VisionFiniteDifference.Check(model.Parameters, () => Loss(model, x, t, labels, target));
    }

    [Fact]
    public void DitBlock_alone_matches_PyTorch_output_and_gradients_of_input_condition_and_weights()
    {
        using var e = SafetensorsFile.Open(Fixture("ditblock.expected.safetensors"));
        int D = int.Parse(e.Metadata["hidden_size"]), heads = int.Parse(e.Metadata["num_heads"]);
        var p = new ParameterBuilder(1);
        var block = new DitBlock(p, "blocks.0", D, heads, 4 * D);
        foreach (var q in p.Parameters) e.ReadFloats(q.Name).CopyTo(q.Value.AsSpan());
        using var x = Tensor.FromArray(e.ReadFloats("x"), 2, 5, D);
        using var c = Tensor.FromArray(e.ReadFloats("c"), 2, D);
        using var w = Tensor.FromArray(e.ReadFloats("w"), 2, 5, D);
        x.RequiresGrad = c.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = block.Forward(x, c);
            ModelParityTests.AssertClose("out", e.ReadFloats("out"), y.ToArray(), ForwardTolerance);
            tape.Backward(Ops.SumAll(Ops.Mul(y, w)));
        }
        ModelParityTests.AssertClose("grad.x", e.ReadFloats("grad.x"), x.Grad!.ToArray(), GradientTolerance);
        ModelParityTests.AssertClose("grad.c", e.ReadFloats("grad.c"), c.Grad!.ToArray(), GradientTolerance);
        foreach (var q in p.Parameters)
            ModelParityTests.AssertClose("grad." + q.Name, e.ReadFloats("grad." + q.Name), q.Value.Grad!.ToArray(), GradientTolerance);
        foreach (var q in p.Parameters) q.Value.Dispose();
    }

    [Fact]
    public void A_fresh_block_is_the_identity_and_a_fresh_dit_predicts_zero()
    {
        var p = new ParameterBuilder(7);
        var block = new DitBlock(p, "blocks.0", 16, 2, 64);
        using var x = Tensor.FromArray(Enumerable.Range(0, 2 * 3 * 16).Select(i => MathF.Sin(i)).ToArray(), 2, 3, 16);
        using var c = Tensor.FromArray(Enumerable.Range(0, 2 * 16).Select(i => MathF.Cos(i)).ToArray(), 2, 16);
        using var tape = new Tape();
        using (tape.Activate())
        {
            Assert.Equal(x.ToArray(), block.Forward(x, c).ToArray());            // adaLN-Zero: every gate starts at 0
            using var dit = new DitModel(new DitConfig { InChannels = 4, InputSize = 4, PatchSize = 2, HiddenSize = 16, Depth = 2, Heads = 2, Classes = 3, FrequencySize = 8 });
            using var z = Tensor.Full(0.5f, 2, 4, 4, 4);
            Assert.All(dit.PredictNoise(z, [3, 900], [1, 3]).ToArray(), v => Assert.Equal(0f, v));   // zero-initialised final layer
        }
        foreach (var q in p.Parameters) q.Value.Dispose();
    }

    [Fact]
    public void Wrong_latent_shape_and_labels_are_refused_by_name()
    {
        using var dit = new DitModel(new DitConfig { InChannels = 4, InputSize = 4, PatchSize = 2, HiddenSize = 16, Depth = 1, Heads = 2, Classes = 3, FrequencySize = 8 });
        using var z = Tensor.Zeros(1, 3, 4, 4);
        Assert.Contains("is not (N, 4, 4, 4)", Assert.Throws<ArgumentException>(() => dit.PredictNoise(z, [0], [0])).Message);
        using var ok = Tensor.Zeros(1, 4, 4, 4);
        Assert.Contains("label 4", Assert.Throws<ArgumentException>(() => dit.PredictNoise(ok, [0], [4])).Message);
        Assert.Contains("num_heads 3", Assert.Throws<ArgumentException>(() => new DitConfig { HiddenSize = 16, Heads = 3 }.Validate()).Message);
    }
}
