using System.Text.Json;
using Lathe.Tensors;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Metrics;
using Lathe.Vision.Training;
using Lathe.Tests.Cli;

namespace Lathe.Tests.Vision;

/// <summary>The generator scorer judged on generators whose answer is known: one that "generates" held-out real test
/// images of the requested class (its distance must look like the real-vs-real baseline and its class accuracy must be
/// the classifier's own accuracy on those images) and one that draws uniform noise (a distance far above the baseline,
/// chance-level class accuracy).</summary>
public class GeneratorScoreTests
{
    static readonly VitConfig Tiny = new() { ImageSize = 28, Patch = 7, Width = 16, Depth = 1, Heads = 2, Intermediate = 32, Labels = 10, Pooling = "mean" };

    /// <summary>Returns real images of each requested class, taken in order from a pool the scorer never sees.</summary>
    sealed class RealImages(ImageSet pool) : IImageGenerator
    {
        public string ModelType => "real";
        public bool ClassConditional => true;
        public int Classes => 10;
        public (int Channels, int Height, int Width) ImageShape => (1, 28, 28);
        public int[] Chosen = [];

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            Chosen = new int[count];
            var next = new int[Classes];
            for (int i = 0; i < count; i++)
            {
                int y = labels[i];
                while (pool.Labels[next[y]] != y) next[y]++;
                Chosen[i] = next[y]++;
            }
            return pool.Batch(Chosen);
        }

        public void Dispose() { }
    }

    /// <summary>Uniform noise in [0, 1], whatever the class.</summary>
    sealed class Noise : IImageGenerator
    {
        public string ModelType => "noise";
        public bool ClassConditional => true;
        public int Classes => 10;
        public (int Channels, int Height, int Width) ImageShape => (1, 28, 28);

        public Tensor Sample(int count, ReadOnlySpan<int> labels, ulong seed)
        {
            var t = Tensor.Empty(count, 1, 28, 28);
            var rng = new Philox(seed);
            var span = t.AsSpan();
            for (int i = 0; i < span.Length; i++) span[i] = rng.NextFloat();
            return t;
        }

        public void Dispose() { }
    }

    static VitModel TrainedTinyVit(ImageSet train)
    {
        var model = new VitModel(Tiny, seed: 5);
        string dir = Path.Combine(Path.GetTempPath(), "lathe-score-vit-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new VisionTrainingOptions { Steps = 60, BatchSize = 32, LearningRate = 3e-3f, WarmupSteps = 5, Seed = 3 };
            VitClassifierTraining.Run(model, train, train.Take(64), options, new VitRunOptions { CropPad = 0, Flip = false, LogEvery = 0 }, dir, resume: false, TextWriter.Null);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        return model;
    }

    [Fact]
    public void Real_images_score_like_the_baseline_and_noise_scores_far_worse()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        var all = FashionMnist.Test();
        var scorerTest = all.Take(500);                                       // the scorer's real images: test 0-499
        var pool = new ImageSet(all.Pixels.AsSpan(2000 * 784, 2000 * 784).ToArray(), all.Labels.AsSpan(2000, 2000).ToArray(), 1, 28, 28, all.ClassNames);
        using var vit = TrainedTinyVit(FashionMnist.Train().Take(1000));
        const int N = 200;

        using var real = new RealImages(pool);
        var r = GeneratorScore.Score(vit, scorerTest, real, N, seed: 7);
        Assert.True(r.RealBaseline > 0, $"baseline {r.RealBaseline}");
        Assert.True(r.FrechetDistance < 2 * r.RealBaseline, $"real images as samples: d² {r.FrechetDistance:G4} vs baseline {r.RealBaseline:G4}");

        // The same d² through the generic path: VitImageFeatures + FrechetDistance.Between on the same real set.
        var realIndices = GeneratorScore.RealIndices(scorerTest.Count, N, seed: 7);
        using (var realA = scorerTest.Batch(realIndices.AsSpan(0, N)))
        using (var realB = scorerTest.Batch(realIndices.AsSpan(N, N)))
        using (var again = pool.Batch(real.Chosen))
        {
            var features = new VitImageFeatures(vit);
            Assert.Equal(r.FrechetDistance, FrechetDistance.Between(features, realA, again), 1e-6 * (1 + r.FrechetDistance));
            Assert.Equal(r.RealBaseline, FrechetDistance.Between(features, realA, realB), 1e-6 * (1 + r.RealBaseline));
        }

        // The conditional accuracy is the classifier's accuracy on exactly those images with the requested labels.
        var labels = GeneratorScore.RequestedLabels(real, N);
        var chosenPixels = new byte[N * 784];
        for (int i = 0; i < N; i++) pool.Image(real.Chosen[i]).CopyTo(chosenPixels.AsSpan(i * 784));
        var direct = ClassifierEvaluation.Evaluate(vit, new ImageSet(chosenPixels, labels, 1, 28, 28, all.ClassNames));
        Assert.Equal(direct.Accuracy, r.ConditionalAccuracy!.Value, 12);
        Assert.True(r.ConditionalAccuracy > 0.4, $"the tiny classifier should have learned something: {r.ConditionalAccuracy:P1}");
        Assert.InRange(r.ClassifierAccuracy, 0.4, 1.0);

        using var noise = new Noise();
        var z = GeneratorScore.Score(vit, scorerTest, noise, N, seed: 7);
        Assert.Equal(r.RealBaseline, z.RealBaseline);                       // same seed → the same real sets
        Assert.True(z.FrechetDistance > 10 * r.RealBaseline, $"noise: d² {z.FrechetDistance:G4} vs baseline {r.RealBaseline:G4}");
        Assert.InRange(z.ConditionalAccuracy!.Value, 0.0, 0.25);             // balanced labels, images carrying no class
    }

    [Fact]
    public void Bad_requests_are_errors_naming_the_problem()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        var test = FashionMnist.Test().Take(100);
        using var vit = new VitModel(Tiny, seed: 1);
        using var noise = new Noise();
        Assert.Contains("2×60", Assert.Throws<ArgumentException>(() => GeneratorScore.Score(vit, test, noise, 60, 1)).Message);
        Assert.Contains("too few", Assert.Throws<ArgumentException>(() => GeneratorScore.Score(vit, test, noise, 1, 1)).Message);
        using var samples = Tensor.Empty(4, 1, 28, 28);
        Assert.Contains("labels", Assert.Throws<ArgumentException>(() => GeneratorScore.Evaluate(vit, test, samples, [1, 2], 1)).Message);
    }

    [Fact]
    public void Cli_scores_a_saved_generator_and_rejects_bad_input_with_exit_2()
    {
        using var lathe = new LatheProcess();
        using (var vit = new VitModel(Tiny, seed: 1)) VisionCheckpoint.Save(lathe.PathOf("vit"), vit);   // random weights: no accuracy asserted
        using (var gan = new DcganModel(new DcganConfig { GeneratorFeatures = 8, DiscriminatorFeatures = 8, NormGroups = 4, Latent = 8, LabelEmbedding = 4 }, seed: 2))
            VisionCheckpoint.Save(lathe.PathOf("gan"), gan);

        using var doc = JsonDocument.Parse(lathe.RunOk("vision", "score", "--classifier", "vit", "--model", "gan", "--count", "20", "--json", "--grid", "g.png", "--threads", "1"));
        var j = doc.RootElement;
        Assert.Equal("dcgan", j.GetProperty("model_type").GetString());
        Assert.True(j.GetProperty("frechet_distance").GetDouble() >= 0);
        Assert.True(j.GetProperty("real_baseline").GetDouble() >= 0);
        Assert.InRange(j.GetProperty("conditional_accuracy").GetDouble(), 0, 1);
        Assert.True(File.Exists(lathe.PathOf("g.png")));

        AssertBadInput(lathe.Run("vision", "score", "--classifier", "vit", "--model", "vit"), "not a generator");
        AssertBadInput(lathe.Run("vision", "score", "--classifier", "gan", "--model", "gan"), "not a ViT classifier");
        AssertBadInput(lathe.Run("vision", "score", "--classifier", "vit", "--model", "gan", "--count", "0"), "--count");
    }

    static void AssertBadInput((int Code, string Stdout, string Stderr) r, string names)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Stderr}");
        Assert.Contains(names, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }
}
