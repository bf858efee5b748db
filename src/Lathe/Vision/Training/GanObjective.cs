using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>The GAN losses of Goodfellow et al. 2014 in their non-saturating form (§3: the generator maximises log D(G(z))
/// rather than minimising log(1 − D(G(z)))), written as binary cross-entropy on logits from log σ, which is stable for
/// logits of any size: BCE(l, 1) = −log σ(l), BCE(l, 0) = −log(1 − σ(l)) = −log σ(−l).</summary>
public static class GanObjective
{
    /// <summary>Mean binary cross-entropy of logits (B) against one target for all (PyTorch's BCEWithLogitsLoss with
    /// reduction "mean").</summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, bool target) =>
        Ops.Scale(Ops.MeanAll(Ops.LogSigmoid(target ? logits : Ops.Scale(logits, -1f))), -1f);

    /// <summary>The discriminator's loss: BCE(D(x), 1) + BCE(D(G(z)), 0).</summary>
    public static Tensor DiscriminatorLoss(Tensor realLogits, Tensor fakeLogits) =>
        Ops.Add(BinaryCrossEntropyWithLogits(realLogits, true), BinaryCrossEntropyWithLogits(fakeLogits, false));

    /// <summary>The generator's non-saturating loss: BCE(D(G(z)), 1) = −mean log σ(D(G(z))).</summary>
    public static Tensor GeneratorLoss(Tensor fakeLogits) => BinaryCrossEntropyWithLogits(fakeLogits, true);
}

/// <summary>A DCGAN training run: two <see cref="VisionTrainer"/>s (files "generator.*" and "discriminator.*" in the run's
/// checkpoint/), alternating per step as in Radford et al. and PyTorch's DCGAN example: the discriminator on a real batch
/// (seeded epoch order) and a generated one (the generator run without a graph), then the generator on the same z and
/// labels through the updated discriminator (whose weights get no gradient in that half). Fake labels are drawn
/// uniformly; z ~ N(0, I); both from generators seeded by the step, so a resumed run draws the same.</summary>
public sealed class GanTrainingRun : IDisposable
{
    readonly DcganModel _model;
    readonly ImageSet _train;
    readonly BatchOrder _order;
    readonly int[] _indices, _realLabels, _fakeLabels;
    readonly Tensor _real, _z;
    readonly Philox _rng = new(0);

    public VisionTrainer Generator { get; }
    public VisionTrainer Discriminator { get; }
    /// <summary>Losses of the last step: the discriminator's, and the generator's.</summary>
    public float LastDiscriminatorLoss { get; private set; }
    public float LastGeneratorLoss { get; private set; }

    /// <summary>Both players share <paramref name="options"/> (DCGAN: Adam, lr 2e-4, β1 0.5 for both).</summary>
    public GanTrainingRun(DcganModel model, ImageSet train, VisionTrainingOptions options, string? runDir)
    {
        CheckImages(model, train, "gan train");
        _model = model;
        _train = train;
        Generator = new VisionTrainer(model.GeneratorParameters, options, runDir, name: "generator");
        Discriminator = new VisionTrainer(model.DiscriminatorParameters, options, runDir, name: "discriminator");
        int b = options.BatchSize, side = model.Config.ImageSize;
        _order = new BatchOrder(train.Count, options.Seed);
        _indices = new int[b];
        _realLabels = new int[b];
        _fakeLabels = new int[b];
        _real = Tensor.Empty(b, model.Config.Channels, side, side);
        _z = Tensor.Empty(b, model.Config.Latent);
    }

    /// <summary>One discriminator update and one generator update; returns (D loss, G loss), each before its update.</summary>
    public (float Discriminator, float Generator) Step()
    {
        int b = _indices.Length, step = Discriminator.Step;
        _order.Batch(step, b, _indices);
        _train.Fill(_real, _indices, symmetric: true);
        for (int i = 0; i < b; i++) _realLabels[i] = _train.Labels[_indices[i]];
        _rng.Restart(Discriminator.Options.Seed * 0xD1B54A32D192ED03UL + (ulong)step + 1);
        _rng.FillNormal(_z.AsSpan());
        for (int i = 0; i < b; i++) _fakeLabels[i] = _rng.NextInt(_model.Config.Classes);

        float d = Discriminator.TrainStep(() =>
        {
            Tensor fake;
            using (Lathe.Tensors.Autograd.Tape.NoGrad()) fake = _model.Generate(_z, _fakeLabels); // no graph into G
            return GanObjective.DiscriminatorLoss(_model.Discriminate(_real, _realLabels), _model.Discriminate(fake, _fakeLabels));
        });
        SetRequiresGrad(_model.DiscriminatorParameters, false);
        float g;
        try { g = Generator.TrainStep(() => GanObjective.GeneratorLoss(_model.Discriminate(_model.Generate(_z, _fakeLabels), _fakeLabels))); }
        finally { SetRequiresGrad(_model.DiscriminatorParameters, true); }
        LastDiscriminatorLoss = d;
        LastGeneratorLoss = g;
        return (d, g);
    }

    static void SetRequiresGrad(IReadOnlyList<Lathe.Models.ModelParameter> parameters, bool on)
    {
        foreach (var p in parameters) p.Value.RequiresGrad = on;
    }

    /// <summary>Writes the model and both players' optimizer states (the discriminator's last, so its state file marks a
    /// complete checkpoint).</summary>
    public void Save()
    {
        Generator.Save(_model);
        Discriminator.Save(null);
    }

    /// <summary>Restores both players' optimizer states and steps (weights loaded by the caller); false when there is no
    /// checkpoint. A checkpoint whose two players disagree on the step is an error.</summary>
    public bool Resume()
    {
        bool g = Generator.Resume(), d = Discriminator.Resume();
        if (g != d || Generator.Step != Discriminator.Step)
            throw new InvalidDataException($"gan: the checkpoint's generator (step {Generator.Step}) and discriminator (step {Discriminator.Step}) states disagree");
        return g;
    }

    /// <summary>Checks that <paramref name="set"/>'s images and labels fit the model, naming both otherwise.</summary>
    public static void CheckImages(DcganModel model, ImageSet set, string what)
    {
        var c = model.Config;
        if (set.Channels != c.Channels || set.Height != c.ImageSize || set.Width != c.ImageSize)
            throw new ArgumentException($"{what}: images are {set.Channels}×{set.Height}×{set.Width}, the GAN makes {c.Channels}×{c.ImageSize}×{c.ImageSize}");
        if (set.ClassNames.Count > c.Classes)
            throw new ArgumentException($"{what}: the images have {set.ClassNames.Count} classes, the GAN {c.Classes}");
    }

    public void Dispose()
    {
        Generator.Dispose();
        Discriminator.Dispose();
        _real.Dispose();
        _z.Dispose();
    }
}
