using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;
using static Lathe.Tests.Vision.GenerativeTestSupport;

namespace Lathe.Tests.Vision;

/// <summary>The class-conditional DCGAN against PyTorch (make_dcgan_fixtures.py: torch.nn modules with the same weights —
/// generated images, logits, both players' losses with BCEWithLogitsLoss and their gradients), the BCE-on-logits loss
/// against BCEWithLogitsLoss and finite differences, and short runs whose loss must fall.</summary>
public class DcganTests
{
    static readonly DcganConfig Tiny = new()
    {
        Channels = 1, ImageSize = 8, Classes = 3, Latent = 4, LabelEmbedding = 3, GeneratorFeatures = 4, DiscriminatorFeatures = 4, NormGroups = 2,
    };

    static DcganModel FixtureModel()
    {
        var model = new DcganModel(Tiny);
        VisionCheckpoint.LoadWeights(Fixture("dcgan.model.safetensors"), model.Parameters);
        return model;
    }

    sealed class Inputs : IDisposable
    {
        public readonly Tensor Z, Real;
        public readonly int[] RealLabels, FakeLabels;
        public Inputs(SafetensorsFile f)
        {
            Z = Tensor.FromArray(f.ReadFloats("z"), 3, Tiny.Latent);
            Real = Tensor.FromArray(f.ReadFloats("real"), 3, 1, 8, 8);
            RealLabels = f.ReadInts("real_labels");
            FakeLabels = f.ReadInts("fake_labels");
        }
        public void Dispose() { Z.Dispose(); Real.Dispose(); }
    }

    static Tensor DiscriminatorLoss(DcganModel model, Inputs x)
    {
        Tensor fake;
        using (Tape.NoGrad()) fake = model.Generate(x.Z, x.FakeLabels);
        return GanObjective.DiscriminatorLoss(model.Discriminate(x.Real, x.RealLabels), model.Discriminate(fake, x.FakeLabels));
    }

    static Tensor GeneratorLoss(DcganModel model, Inputs x) =>
        GanObjective.GeneratorLoss(model.Discriminate(model.Generate(x.Z, x.FakeLabels), x.FakeLabels));

    [Fact]
    public void Forward_losses_and_gradients_match_PyTorch()
    {
        using var model = FixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("dcgan.expected.safetensors"));
        using var x = new Inputs(expected);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var fake = model.Generate(x.Z, x.FakeLabels);
            AssertClose("fake", expected.ReadFloats("fake"), fake.ToArray());
            AssertClose("real_logits", expected.ReadFloats("real_logits"), model.Discriminate(x.Real, x.RealLabels).ToArray());
            AssertClose("fake_logits", expected.ReadFloats("fake_logits"), model.Discriminate(fake, x.FakeLabels).ToArray());
            var d = DiscriminatorLoss(model, x);
            AssertClose("d_loss", expected.ReadFloats("d_loss"), [d.Item()], 1e-5);
            tape.Backward(d);
        }
        foreach (var p in model.DiscriminatorParameters)
            AssertClose("d_grad." + p.Name, expected.ReadFloats("d_grad." + p.Name), p.Value.Grad!.ToArray());
        foreach (var p in model.GeneratorParameters) Assert.True(p.Value.Grad is null || p.Value.Grad.ToArray().All(v => v == 0), $"{p.Name} got a gradient from the discriminator's loss");

        foreach (var p in model.Parameters) p.Value.ZeroGrad();
        x.Z.RequiresGrad = true;
        tape.Reset();
        using (tape.Activate())
        {
            var g = GeneratorLoss(model, x);
            AssertClose("g_loss", expected.ReadFloats("g_loss"), [g.Item()], 1e-5);
            tape.Backward(g);
        }
        foreach (var p in model.GeneratorParameters)
            AssertClose("g_grad." + p.Name, expected.ReadFloats("g_grad." + p.Name), p.Value.Grad!.ToArray());
        AssertClose("g_grad.z", expected.ReadFloats("g_grad.z"), x.Z.Grad!.ToArray());
        Assert.Equal(expected.Entries.Keys.Count(k => k.StartsWith("d_grad.", StringComparison.Ordinal)), model.DiscriminatorParameters.Count);
        Assert.Equal(expected.Entries.Keys.Count(k => k.StartsWith("g_grad.generator.", StringComparison.Ordinal)), model.GeneratorParameters.Count);
    }

    // A step of 1e-3: at 1e-2 a nudge of a first-layer bias moves many pre-activations across LeakyReLU's kink. The loss
    // (≈ 2.8) rounds at ≈ 3e-7, which over 2e-3 is ≈ 1.5e-4, inside the 2e-3 allowance.
    const float Step = 1e-3f;

    [Fact]
    public void Player_gradients_match_finite_differences()
    {
        using var model = FixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("dcgan.expected.safetensors"));
        using var x = new Inputs(expected);
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(DiscriminatorLoss(model, x));
        foreach (var p in model.DiscriminatorParameters)
            CheckFiniteDifferences(p, p.Value.Grad!.ToArray(), () => Evaluate(tape, () => DiscriminatorLoss(model, x)), Step);
        foreach (var p in model.Parameters) p.Value.ZeroGrad();
        tape.Reset();
        using (tape.Activate()) tape.Backward(GeneratorLoss(model, x));
        foreach (var p in model.GeneratorParameters)
            CheckFiniteDifferences(p, p.Value.Grad!.ToArray(), () => Evaluate(tape, () => GeneratorLoss(model, x)), Step);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Bce_with_logits_matches_PyTorch_and_finite_differences(bool target)
    {
        using var expected = SafetensorsFile.Open(Fixture("dcgan.expected.safetensors"));
        float[] values = expected.ReadFloats("bce.logits");
        using var logits = Tensor.FromArray(values, values.Length);
        logits.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = GanObjective.BinaryCrossEntropyWithLogits(logits, target);
            AssertClose("loss", expected.ReadFloats($"bce.loss_{(target ? 1 : 0)}"), [loss.Item()], 1e-6);
            tape.Backward(loss);
        }
        AssertClose("grad", expected.ReadFloats($"bce.grad_{(target ? 1 : 0)}"), logits.Grad!.ToArray(), 1e-6);
        var p = new ModelParameter("logits", logits, false, false);
        CheckFiniteDifferences(p, logits.Grad!.ToArray(), () => Evaluate(tape, () => GanObjective.BinaryCrossEntropyWithLogits(logits, target)));
    }

    // The first 256 training images, read once for the class (decompressing all 60,000 takes a moment).
    static readonly Lazy<ImageSet> First256 = new(() => FashionMnist.Train().Take(256));
    static ImageSet Images(int n) => First256.Value.Take(n);

    static readonly DcganConfig Small = new() { GeneratorFeatures = 16, DiscriminatorFeatures = 16, NormGroups = 4, Latent = 16, LabelEmbedding = 8 };

    static VisionTrainingOptions GanOptions(int steps, int batch) => new()
    {
        Steps = steps, BatchSize = batch, LearningRate = 2e-4f, Beta1 = 0.5f, WarmupSteps = 0, MinLrFraction = 1f, WeightDecay = 0, ClipNorm = 0, Seed = 2,
    };

    /// <summary>The discriminator alone, trained on real images against a fixed set of the (untrained) generator's images:
    /// its loss starts above 1 (2·ln 2 ≈ 1.386 is chance) and must fall well below, which needs its forward, its
    /// backward through both branches and the BCE targets all right (swapped targets would raise it).</summary>
    [Fact]
    public void Discriminator_learns_to_separate_real_from_a_fixed_fake_set()
    {
        const int B = 16;
        var set = Images(160);
        using var model = new DcganModel(Small, seed: 3);
        var options = GanOptions(20, B) with { LearningRate = 1e-3f };
        using var trainer = new VisionTrainer(model.DiscriminatorParameters, options, null, model.Parameters);
        using var real = Tensor.Empty(B, 1, 28, 28);
        using var z = Tensor.Empty(B, Small.Latent);
        new Philox(5).FillNormal(z.AsSpan());
        int[] idx = new int[B], realLabels = new int[B], fakeLabels = Enumerable.Range(0, B).Select(i => i % 10).ToArray();
        var order = new BatchOrder(set.Count, 1);
        float first = 0, last = 0;
        for (int step = 0; step < options.Steps; step++)
        {
            order.Batch(step, B, idx);
            set.Fill(real, idx, symmetric: true);
            for (int i = 0; i < B; i++) realLabels[i] = set.Labels[idx[i]];
            last = trainer.TrainStep(() =>
            {
                Tensor fake;
                using (Tape.NoGrad()) fake = model.Generate(z, fakeLabels);
                return GanObjective.DiscriminatorLoss(model.Discriminate(real, realLabels), model.Discriminate(fake, fakeLabels));
            });
            if (step == 0) first = last;
        }
        Assert.True(first > 1f, $"the untrained discriminator should not separate them yet (loss {first}; 2 ln 2 = 1.386 is chance)");
        Assert.True(last < 0.3f, $"the discriminator's loss went from {first} to {last}");
    }

    /// <summary>The generator alone against a frozen discriminator that was first taught to reject its images: the
    /// non-saturating loss −log σ(D(G(z))) must fall, which needs the gradient to pass back through the discriminator's
    /// convolutions, norm and input into the generator — a wrong sign or a broken input gradient would raise it.</summary>
    [Fact]
    public void Generator_loss_falls_against_a_frozen_discriminator()
    {
        const int B = 16;
        var set = Images(64);
        using var model = new DcganModel(Small, seed: 4);
        using var real = set.Batch(Enumerable.Range(0, B).ToArray(), symmetric: true);
        int[] realLabels = set.Labels[..B], fakeLabels = Enumerable.Range(0, B).Select(i => i % 10).ToArray();
        using var z = Tensor.Empty(B, Small.Latent);
        new Philox(6).FillNormal(z.AsSpan());
        using (var d = new VisionTrainer(model.DiscriminatorParameters, GanOptions(15, B) with { LearningRate = 1e-3f }, null))
            for (int i = 0; i < 15; i++)
                d.TrainStep(() =>
                {
                    Tensor fake;
                    using (Tape.NoGrad()) fake = model.Generate(z, fakeLabels);
                    return GanObjective.DiscriminatorLoss(model.Discriminate(real, realLabels), model.Discriminate(fake, fakeLabels));
                });
        var frozen = model.DiscriminatorParameters.Select(p => p.Value.ToArray()).ToArray();
        var options = GanOptions(25, B) with { LearningRate = 1e-3f };
        using var g = new VisionTrainer(model.GeneratorParameters, options, null, model.Parameters);
        float first = 0, last = 0;
        for (int step = 0; step < options.Steps; step++)
        {
            last = g.TrainStep(() => GanObjective.GeneratorLoss(model.Discriminate(model.Generate(z, fakeLabels), fakeLabels)));
            if (step == 0) first = last;
        }
        Assert.True(first > 1f, $"the trained discriminator should reject the generator's images (loss {first})");
        Assert.True(last < first - 0.5f, $"the generator's loss went from {first} to {last}");
        for (int i = 0; i < frozen.Length; i++) Assert.Equal(frozen[i], model.DiscriminatorParameters[i].Value.ToArray());
    }

    [Fact]
    public void Training_run_is_deterministic_and_resumes_bit_for_bit()
    {
        var set = Images(64);
        var options = GanOptions(4, 8);
        float[] Weights(DcganModel m) => m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        string dirA = Directory.CreateTempSubdirectory("lathe-gan").FullName, dirB = Directory.CreateTempSubdirectory("lathe-gan").FullName;
        float[] straight;
        using (var model = new DcganModel(Small, seed: 8))
        using (var run = new GanTrainingRun(model, set, options, dirA))
        {
            for (int i = 0; i < 4; i++) { var (d, g) = run.Step(); Assert.True(float.IsFinite(d) && float.IsFinite(g)); }
            straight = Weights(model);
        }
        using (var model = new DcganModel(Small, seed: 8))
        using (var run = new GanTrainingRun(model, set, options, dirB))
        {
            for (int i = 0; i < 2; i++) run.Step();
            run.Save();
        }
        using (var model = new DcganModel(Small, seed: 99))
        {
            VisionCheckpoint.LoadWeights(Path.Combine(dirB, "checkpoint", "model.safetensors"), model.Parameters);
            using var run = new GanTrainingRun(model, set, options, dirB);
            Assert.True(run.Resume());
            Assert.Equal(2, run.Generator.Step);
            for (int i = 0; i < 2; i++) run.Step();
            Assert.Equal(straight, Weights(model));
        }
    }

    [Fact]
    public void Samples_follow_labels_and_bad_labels_are_named()
    {
        using var model = FixtureModel();
        var a = model.Sample([0, 1, 2, 0], seed: 5);
        Assert.Equal(4 * 64, a.Length);
        Assert.Equal(a, model.Sample([0, 1, 2, 0], seed: 5));
        Assert.NotEqual(a.AsSpan(0, 64).ToArray(), a.AsSpan(192, 64).ToArray()); // same label, different z
        var e = Assert.Throws<ArgumentException>(() => model.Sample([0, 3], seed: 1));
        Assert.Contains("label 3", e.Message);
        string dir = Directory.CreateTempSubdirectory("lathe-gan").FullName;
        VisionCheckpoint.Save(dir, model);
        using var loaded = VisionCheckpoint.Load<DcganModel>(dir, "a GAN");
        Assert.Equal(a, loaded.Sample([0, 1, 2, 0], seed: 5));
    }
}
