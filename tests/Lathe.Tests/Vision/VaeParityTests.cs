using System.Globalization;
using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Vision;
using Lathe.Vision.Architectures;

namespace Lathe.Tests.Vision;

/// <summary>The VAE against an independent PyTorch float64 implementation (fixtures/make_dit_fixtures.py): posterior mean
/// and log-variance, logits, the BCE and KL terms, the β-weighted loss and every parameter's gradient, with the
/// reparameterisation noise fixed; plus finite differences.</summary>
public class VaeParityTests
{
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    static (VaeModel Model, SafetensorsFile Expected) Load()
    {
        var e = SafetensorsFile.Open(DitParityTests.Fixture("vae.expected.safetensors"));
        var config = new VaeConfig
        {
            ImageSize = int.Parse(e.Metadata["image_size"]), BaseChannels = int.Parse(e.Metadata["base_channels"]),
            LatentChannels = int.Parse(e.Metadata["latent_channels"]), Groups = int.Parse(e.Metadata["norm_num_groups"]),
            KlWeight = float.Parse(e.Metadata["kl_weight"], CultureInfo.InvariantCulture),
        };
        var model = new VaeModel(config);
        VisionCheckpoint.LoadWeights(DitParityTests.Fixture("vae.model.safetensors"), model.Parameters);
        return (model, e);
    }

    [Fact]
    public void Vae_matches_PyTorch_posterior_logits_loss_terms_and_every_gradient()
    {
        var (model, e) = Load();
        using var _ = model;
        using var __ = e;
        int S = model.Config.ImageSize, L = model.Config.LatentChannels;
        using var x = Tensor.FromArray(e.ReadFloats("x"), 2, 1, S, S);
        using var noise = Tensor.FromArray(e.ReadFloats("noise"), 2, L, S / 4, S / 4);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var (mean, logVar) = model.Encode(x);
            ModelParityTests.AssertClose("mean", e.ReadFloats("mean"), mean.ToArray(), ForwardTolerance);
            ModelParityTests.AssertClose("logvar", e.ReadFloats("logvar"), logVar.ToArray(), ForwardTolerance);
            var loss = model.Loss(x, mean, logVar, noise);
            ModelParityTests.AssertClose("reconstruction", e.ReadFloats("reconstruction"), [loss.Reconstruction.Item()], ForwardTolerance);
            ModelParityTests.AssertClose("kl", e.ReadFloats("kl"), [loss.Kl.Item()], ForwardTolerance);
            ModelParityTests.AssertClose("loss", e.ReadFloats("loss"), [loss.Total.Item()], ForwardTolerance);
            tape.Backward(loss.Total);
        }
        foreach (var p in model.Parameters)
            ModelParityTests.AssertClose("grad." + p.Name, e.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(e.Entries.Count(k => k.Key.StartsWith("grad.", StringComparison.Ordinal)), model.Parameters.Count);

        tape.Reset();
        using (tape.Activate())
        {
            var (mean, logVar) = model.Encode(x);
            var z = Ops.Add(mean, Ops.Mul(Ops.Exp(Ops.Scale(logVar, 0.5f)), noise));
            ModelParityTests.AssertClose("logits", e.ReadFloats("logits"), model.DecodeLogits(z).ToArray(), ForwardTolerance);
        }
    }

    [Fact]
    public void Vae_gradients_match_finite_differences()
    {
        var (model, e) = Load();
        using var _ = model;
        using var __ = e;
        int S = model.Config.ImageSize, L = model.Config.LatentChannels;
        using var x = Tensor.FromArray(e.ReadFloats("x"), 2, 1, S, S);
        using var noise = Tensor.FromArray(e.ReadFloats("noise"), 2, L, S / 4, S / 4);
        VisionFiniteDifference.Check(model.Parameters, () =>
        {
            var (mean, logVar) = model.Encode(x);
            return model.Loss(x, mean, logVar, noise).Total;
        }, tolerance: 5e-3);
    }

    [Fact]
    public void Wrong_image_size_is_refused_by_name()
    {
        using var model = new VaeModel(new VaeConfig { ImageSize = 8, BaseChannels = 8, Groups = 4 });
        using var x = Tensor.Zeros(1, 1, 12, 12);
        Assert.Contains("is not (N, 1, 8, 8)", Assert.Throws<ArgumentException>(() => model.Encode(x)).Message);
        Assert.Contains("base_channels 6", Assert.Throws<ArgumentException>(() => new VaeConfig { BaseChannels = 6, Groups = 4 }.Validate()).Message);
    }
}
