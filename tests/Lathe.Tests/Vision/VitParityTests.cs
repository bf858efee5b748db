using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Layers;

namespace Lathe.Tests.Vision;

/// <summary>The ViT and its layers against an independent PyTorch implementation run in float64
/// (fixtures/make_vit_fixtures.py): the patch embedding against conv2d with kernel = stride = p, the 2-D sin-cos table
/// against MAE's numpy formula, and the whole classifier — final tokens, logits, loss and the gradient of every
/// parameter and of the images — for both poolings and both position kinds.</summary>
public class VitParityTests
{
    // float32 through 2 pre-LN blocks vs float64, as the language-model parity tests: 2e-5 relative forward, 1e-4 gradients.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", name);

    [Theory]
    [InlineData("vit-cls-learned")]
    [InlineData("vit-mean-sincos")]
    [InlineData("vit-cls-sincos")]
    [InlineData("vit-mean-learned")]
    public void Classifier_matches_PyTorch_tokens_logits_loss_and_every_gradient(string name)
    {
        using var expected = SafetensorsFile.Open(Fixture(name + ".expected.safetensors"));
        var config = VitConfig.FromJson(expected.Metadata["config"]);
        using var model = new VitModel(config);
        VisionCheckpoint.LoadWeights(Fixture(name + ".model.safetensors"), model.Parameters);
        int[] labels = expected.ReadInts("labels");
        int N = labels.Length;
        using var images = Tensor.FromArray(expected.ReadFloats("images"), N, config.Channels, config.ImageSize, config.ImageSize);
        images.RequiresGrad = true;

        using var tape = new Tape();
        float[] tokens, logits;
        float loss;
        using (tape.Activate())
        {
            var t = model.Encode(images);
            Assert.Equal([N, config.Tokens, config.Width], t.Shape.ToArray());
            tokens = t.ToArray();
            var z = Ops.Linear(model.Pool(t), model.Linears().Last().Weight, model.Linears().Last().Bias);
            logits = z.ToArray();
            var l = Ops.CrossEntropy(z, labels);
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("tokens", expected.ReadFloats("tokens"), tokens, ForwardTolerance);
        ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        ModelParityTests.AssertClose("grad.images", expected.ReadFloats("grad.images"), images.Grad!.ToArray(), GradientTolerance);
        foreach (var p in model.Parameters)
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)) - 1, model.Parameters.Count);
    }

    [Fact]
    public void Logits_and_loss_agree_with_the_pieces()
    {
        using var expected = SafetensorsFile.Open(Fixture("vit-cls-learned.expected.safetensors"));
        var config = VitConfig.FromJson(expected.Metadata["config"]);
        using var model = new VitModel(config);
        VisionCheckpoint.LoadWeights(Fixture("vit-cls-learned.model.safetensors"), model.Parameters);
        int[] labels = expected.ReadInts("labels");
        using var images = Tensor.FromArray(expected.ReadFloats("images"), labels.Length, config.Channels, config.ImageSize, config.ImageSize);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), model.Logits(images).ToArray(), ForwardTolerance);
            ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [model.Loss(images, labels).Item()], ForwardTolerance);
            Assert.Equal([labels.Length, config.Width], model.Features(images).Shape.ToArray());
        }
    }

    [Fact]
    public void Patch_embedding_is_a_conv2d_with_kernel_and_stride_p_on_a_non_square_image()
    {
        using var expected = SafetensorsFile.Open(Fixture("vit-patch.expected.safetensors"));
        int P = int.Parse(expected.Metadata["patch"]);
        var wShape = expected.Entries["weight"].Shape.Select(d => (int)d).ToArray();      // (out, C, p, p)
        var xShape = expected.Entries["images"].Shape.Select(d => (int)d).ToArray();      // (N, C, H, W)
        var builder = new ParameterBuilder(1);
        var layer = new PatchEmbedding(builder, "projection", wShape[1], P, wShape[0], 0.02f);
        expected.ReadFloats("weight").CopyTo(builder.Parameters[0].Value.AsSpan());
        expected.ReadFloats("bias").CopyTo(builder.Parameters[1].Value.AsSpan());
        using var images = Tensor.FromArray(expected.ReadFloats("images"), xShape);
        images.RequiresGrad = true;
        using var tape = new Tape();
        float[] output;
        using (tape.Activate())
        {
            var y = layer.Forward(images);
            Assert.Equal([xShape[0], layer.Tokens(xShape[2], xShape[3]), wShape[0]], y.Shape.ToArray());
            output = y.ToArray();
            using var upstream = Tensor.FromArray(expected.ReadFloats("upstream"), y.Shape);
            tape.Backward(Ops.SumAll(Ops.Mul(y, upstream)));
        }
        ModelParityTests.AssertClose("output", expected.ReadFloats("output"), output, ForwardTolerance);
        ModelParityTests.AssertClose("grad.weight", expected.ReadFloats("grad.weight"), builder.Parameters[0].Value.Grad!.ToArray(), GradientTolerance);
        ModelParityTests.AssertClose("grad.bias", expected.ReadFloats("grad.bias"), builder.Parameters[1].Value.Grad!.ToArray(), GradientTolerance);
        ModelParityTests.AssertClose("grad.images", expected.ReadFloats("grad.images"), images.Grad!.ToArray(), GradientTolerance);
        foreach (var p in builder.Parameters) { p.Value.Grad?.Dispose(); p.Value.Dispose(); }
    }

    [Fact]
    public void Sincos_table_matches_MAEs_formula_with_a_zero_class_row()
    {
        using var expected = SafetensorsFile.Open(Fixture("vit-sincos.expected.safetensors"));
        int width = int.Parse(expected.Metadata["width"]), gh = int.Parse(expected.Metadata["grid_h"]), gw = int.Parse(expected.Metadata["grid_w"]);
        int extra = int.Parse(expected.Metadata["extra"]);
        using var table = Positions2d.SinCos(width, gh, gw, extra);
        Assert.Equal([extra + gh * gw, width], table.Shape.ToArray());
        ModelParityTests.AssertClose("table", expected.ReadFloats("table"), table.ToArray(), 1e-6f);
        Assert.All(table.ToArray().Take(extra * width), v => Assert.Equal(0f, v));
    }
}
