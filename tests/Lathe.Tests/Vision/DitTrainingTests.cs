using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Training;

namespace Lathe.Tests.Vision;

/// <summary>Short training runs that must reduce the loss (the VAE on real Fashion-MNIST images, a tiny DiT on two
/// clusters of latents), the samplers driven by the exact noise predictor of a one-point distribution (they must land on
/// the point), and same seed → same bits for training and sampling.</summary>
public class DitTrainingTests
{
    static readonly DitConfig Tiny = new() { InChannels = 4, InputSize = 4, PatchSize = 1, HiddenSize = 32, Depth = 2, Heads = 2, Classes = 2, FrequencySize = 32 };

    [Fact]
    public void Vae_training_on_fashion_mnist_reduces_the_loss()
    {
        var images = FashionMnist.Test().Take(128);
        var options = new VisionTrainingOptions { Steps = 30, BatchSize = 16, LearningRate = 3e-3f, WarmupSteps = 2, WeightDecay = 0 };
        var losses = new List<float>();
        using var model = VaeTraining.Run(new VaeConfig { BaseChannels = 8, Groups = 4 }, options, images, null, (_, loss, _, _) => losses.Add(loss));
        Assert.Equal(30, losses.Count);
        float first = losses.Take(5).Average(), last = losses.TakeLast(5).Average();
        Assert.True(last < 0.8f * first, $"VAE loss went from {first:F2} to {last:F2}");
        Assert.True(model.Config.ScalingFactor > 0 && float.IsFinite(model.Config.ScalingFactor));
        var e = model.Evaluate(images.Take(64));
        Assert.True(e.ReconstructionMse < 0.2, $"reconstruction MSE {e.ReconstructionMse}");
    }

    // 64 latents in two classes, each a fixed pattern plus a little noise.
    static (Tensor Latents, int[] Labels) Clusters(int n)
    {
        var rng = new Philox(3);
        var x = Tensor.Zeros(n, 4, 4, 4);
        var s = x.AsSpan();
        var labels = new int[n];
        for (int b = 0; b < n; b++)
        {
            labels[b] = b % 2;
            for (int i = 0; i < 64; i++) s[b * 64 + i] = (labels[b] == 0 ? MathF.Sin(i) : MathF.Cos(3 * i)) * 1.2f + 0.1f * rng.NextNormal();
        }
        return (x, labels);
    }

    static float FixedLoss(DitModel model, Tensor x, int[] labels)
    {
        using var objective = new DiffusionObjective(new Ddpm(NoiseSchedule.Linear()), labelDropout: 0);
        using var tape = new Lathe.Tensors.Autograd.Tape();
        float total = 0;
        for (int k = 0; k < 4; k++)
        {
            tape.Reset();
            using (tape.Activate())
            using (Lathe.Tensors.Autograd.Tape.NoGrad())
                total += objective.Loss(model, x, labels, new Philox(100 + (ulong)k)).Item();
        }
        return total / 4;
    }

    [Fact]
    public void Dit_training_reduces_the_epsilon_prediction_loss()
    {
        var (x, labels) = Clusters(64);
        using var _ = x;
        using var model = new DitModel(Tiny, seed: 5);
        float before = FixedLoss(model, x, labels);
        var options = new VisionTrainingOptions { Steps = 60, BatchSize = 64, LearningRate = 2e-3f, WarmupSteps = 5, WeightDecay = 0 };
        using (var trainer = new VisionTrainer(model.Parameters, options, null))
        using (var objective = new DiffusionObjective(new Ddpm(NoiseSchedule.Linear())))
        {
            var rng = new Philox(9);
            while (trainer.Step < options.Steps) trainer.TrainStep(() => objective.Loss(model, x, labels, rng));
        }
        float after = FixedLoss(model, x, labels);
        Assert.True(after < 0.7f * before, $"ε-MSE went from {before:F4} to {after:F4}");
    }

    [Fact]
    public void Dit_training_is_bit_reproducible()
    {
        var (x, labels) = Clusters(16);
        using var _ = x;
        float[] Run()
        {
            using var model = new DitModel(Tiny, seed: 2);
            var options = new VisionTrainingOptions { Steps = 3, BatchSize = 16, LearningRate = 1e-3f, WarmupSteps = 0 };
            using var trainer = new VisionTrainer(model.Parameters, options, null);
            using var objective = new DiffusionObjective(new Ddpm(NoiseSchedule.Cosine()));
            var rng = new Philox(4);
            while (trainer.Step < options.Steps) trainer.TrainStep(() => objective.Loss(model, x, labels, rng));
            return model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    /// <summary>The exact ε-predictor for data that is always the point a: ε = (x_t − √ᾱ_t·a)/√(1 − ᾱ_t). Conditional, so
    /// guidance runs its doubled batch; class 1's point is −a and the null label's is 0.</summary>
    sealed class PointOracle(NoiseSchedule schedule, float[] a) : INoisePredictor
    {
        public int Channels => 1;
        public int Height => 2;
        public int Width => 2;
        public bool IsConditional => true;
        public int NullLabel => 2;

        public Tensor PredictNoise(Tensor x, ReadOnlySpan<int> t, ReadOnlySpan<int> labels)
        {
            var eps = Tensor.Zeros(x.Shape);
            var xs = x.AsSpan();
            var e = eps.AsSpan();
            for (int b = 0; b < t.Length; b++)
            {
                double aBar = schedule.AlphaBars[t[b]];
                float sign = labels[b] == 0 ? 1 : labels[b] == 1 ? -1 : 0;
                for (int i = 0; i < 4; i++)
                    e[b * 4 + i] = (float)((xs[b * 4 + i] - Math.Sqrt(aBar) * sign * a[i]) / Math.Sqrt(1 - aBar));
            }
            return eps;
        }
    }

    [Theory]
    [InlineData("ddim", 0f, 1f)]
    [InlineData("ddim", 0f, 3f)]
    [InlineData("ddim", 1f, 1f)]
    [InlineData("ddpm", 0f, 1f)]
    public void Samplers_driven_by_the_exact_predictor_land_on_the_point(string sampler, float eta, float guidance)
    {
        float[] a = [0.5f, -1f, 1.5f, 0.25f];
        var schedule = NoiseSchedule.Linear();
        var oracle = new PointOracle(schedule, a);
        var x = new float[2 * 4];
        var rng = new Philox(11);
        rng.FillNormal(x);
        using (var estimator = new GuidedNoiseEstimator(oracle, [0, 1], guidance))
        {
            if (sampler == "ddpm") new Ddpm(schedule).Sample(estimator, x, rng);
            else new Ddim(schedule).Sample(estimator, x, 25, eta, rng);
        }
        // With w ≠ 1 the guided ε is that of the point w·(±a) (ε is affine in the point), so that is where it lands.
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(guidance * a[i], x[i], 2);
            Assert.Equal(-guidance * a[i], x[4 + i], 2);
        }
    }

    [Fact]
    public void Sampling_is_bit_reproducible_and_seed_dependent()
    {
        using var vae = new VaeModel(new VaeConfig { ImageSize = 16, BaseChannels = 8, Groups = 4 });
        using var dit = new DitModel(Tiny with { Classes = 10 }, seed: 3);
        foreach (var p in dit.Parameters) { var s = p.Value.AsSpan(); for (int i = 0; i < s.Length; i++) s[i] += 0.01f * MathF.Sin(i + p.Name.Length); }
        var diffusion = new LatentDiffusion(dit, vae);
        var options = new DiffusionSamplingOptions { SamplingSteps = 5, Guidance = 2f, Eta = 0.5f, Seed = 7 };
        using var a = diffusion.Generate([1, 7], options);
        using var b = diffusion.Generate([1, 7], options);
        using var c = diffusion.Generate([1, 7], options with { Seed = 8 });
        Assert.Equal([2, 1, 16, 16], a.Shape.ToArray());
        Assert.Equal(a.ToArray(), b.ToArray());
        Assert.NotEqual(a.ToArray(), c.ToArray());
        Assert.All(a.ToArray(), v => Assert.InRange(v, 0f, 1f));
    }
}
