using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;

namespace Lathe.Tests.Vision;

/// <summary>The ViT's behaviour: finite-difference spot checks of its gradients, a short training run on real
/// Fashion-MNIST images that must lower the loss, the checkpoint round trip through VisionCheckpoint, determinism,
/// and the config's and the images' validation.</summary>
public class VitModelTests
{
    static VitConfig Tiny(string pooling = "cls", string positions = "learned") => new()
    {
        ImageSize = 8, Channels = 1, Patch = 4, Width = 8, Depth = 1, Heads = 2, Intermediate = 16, Labels = 3,
        Pooling = pooling, Positions = positions, InitStd = 0.5f, NormEps = 1e-5f,
    };

    static Tensor RandomImages(int n, VitConfig c, ulong seed)
    {
        var t = Tensor.Zeros(n, c.Channels, c.ImageSize, c.ImageSize);
        new Philox(seed).FillNormal(t.AsSpan(), 0, 1);
        return t;
    }

    [Theory]
    [InlineData("cls", "learned")]
    [InlineData("mean", "sincos")]
    public void Gradients_match_finite_differences(string pooling, string positions)
    {
        var c = Tiny(pooling, positions);
        using var model = new VitModel(c, seed: 3);
        using var images = RandomImages(2, c, 5);
        int[] labels = [2, 0];
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(model.Loss(images, labels));
        double Loss()
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) return model.Loss(images, labels).Item();
        }
        foreach (var p in model.Parameters)
        {
            float[] analytic = p.Value.Grad!.ToArray();
            var data = p.Value.AsSpan();
            foreach (int i in new[] { 0, data.Length / 2, data.Length - 1 })
            {
                float saved = data[i];
                data[i] = saved + 1e-2f; double plus = Loss();
                data[i] = saved - 1e-2f; double minus = Loss();
                data[i] = saved;
                double numeric = (plus - minus) / 2e-2;
                Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{p.Name}[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
            }
        }
    }

    [Fact]
    public void A_short_training_run_on_Fashion_MNIST_lowers_the_loss()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        var data = FashionMnist.Test().Take(128);
        var c = new VitConfig { ImageSize = 28, Patch = 7, Width = 32, Depth = 1, Heads = 2, Intermediate = 64, Labels = 10 };
        using var model = new VitModel(c, seed: 1);
        var options = new VisionTrainingOptions { Steps = 40, BatchSize = 32, LearningRate = 5e-3f, WarmupSteps = 2, Seed = 1 };
        using var trainer = new VisionTrainer(model.Parameters, options, runDir: null);
        var order = new BatchOrder(data.Count, options.Seed);
        var indices = new int[options.BatchSize];
        var labels = new int[options.BatchSize];
        using var batch = Tensor.Empty(options.BatchSize, 1, 28, 28);
        var losses = new List<float>();
        for (int s = 0; s < options.Steps; s++)
        {
            order.Batch(s, options.BatchSize, indices);
            data.Fill(batch, indices);
            for (int i = 0; i < indices.Length; i++) labels[i] = data.Labels[indices[i]];
            losses.Add(trainer.TrainStep(() => model.Loss(batch, labels)));
        }
        float first = losses.Take(5).Average(), last = losses.TakeLast(5).Average();
        Assert.True(first > 2.0f, $"the untrained loss {first:G4} should be near ln 10");
        Assert.True(last < 0.8f * first, $"loss went from {first:G4} to {last:G4}");
    }

    [Fact]
    public void Checkpoint_round_trip_gives_the_same_logits()
    {
        var c = Tiny("mean", "sincos");
        using var model = new VitModel(c, seed: 9);
        using var images = RandomImages(3, c, 2);
        string dir = Path.Combine(Path.GetTempPath(), "lathe-vit-" + Guid.NewGuid().ToString("N"));
        try
        {
            VisionCheckpoint.Save(dir, model);
            Assert.Equal("vit", VisionCheckpoint.ModelTypeOf(dir));
            using var loaded = VisionCheckpoint.Load<VitModel>(dir, "a ViT");
            Assert.Equal(c, loaded.Config);
            Assert.Equal(model.Parameters.Select(p => p.Name), loaded.Parameters.Select(p => p.Name));
            using var tape = new Tape();
            using (tape.Activate()) using (Tape.NoGrad())
                Assert.Equal(model.Logits(images).ToArray(), loaded.Logits(images).ToArray());
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void Names_follow_Hugging_Face_ViTForImageClassification()
    {
        using var model = new VitModel(Tiny());
        var names = model.Parameters.Select(p => p.Name).ToArray();
        Assert.Equal("vit.embeddings.cls_token", names[0]);
        Assert.Equal("vit.embeddings.position_embeddings", names[1]);
        Assert.Contains("vit.embeddings.patch_embeddings.projection.weight", names);
        Assert.Contains("vit.encoder.layer.0.attention.attention.query.weight", names);
        Assert.Contains("vit.encoder.layer.0.attention.output.dense.bias", names);
        Assert.Contains("vit.layernorm.weight", names);
        Assert.Equal("classifier.bias", names[^1]);
        Assert.Equal([8L, 1L, 4L, 4L], model.Parameters.Single(p => p.Name.EndsWith("projection.weight")).StoredShape);
        using var encoder = new VitModel(Tiny() with { Labels = 0 });
        Assert.Equal("embeddings.cls_token", encoder.Parameters[0].Name);
        Assert.DoesNotContain(encoder.Parameters, p => p.Name.StartsWith("classifier", StringComparison.Ordinal));
    }

    [Fact]
    public void Same_seed_gives_the_same_bits_and_dropout_follows_its_seed()
    {
        var c = Tiny() with { Dropout = 0.2f };
        using var a = new VitModel(c, seed: 4);
        using var b = new VitModel(c, seed: 4);
        using var images = RandomImages(2, c, 1);
        using var tape = new Tape();
        using (tape.Activate()) using (Tape.NoGrad())
        {
            Assert.Equal(a.Logits(images).ToArray(), b.Logits(images).ToArray());
            a.Training = b.Training = true;
            a.DropoutSeed = b.DropoutSeed = 7;
            float[] da = a.Logits(images).ToArray();
            Assert.Equal(da, b.Logits(images).ToArray());
            b.DropoutSeed = 8;
            Assert.NotEqual(da, b.Logits(images).ToArray());
        }
    }

    [Theory]
    [InlineData("""{"model_type":"vit","image_size":28,"patch_size":5}""", "patch_size 5 does not divide image_size 28")]
    [InlineData("""{"model_type":"vit","pooling":"max"}""", "pooling 'max'")]
    [InlineData("""{"model_type":"vit","position_embedding":"rope"}""", "position_embedding 'rope'")]
    [InlineData("""{"model_type":"vit","hidden_size":10,"num_attention_heads":3}""", "not a multiple of num_attention_heads")]
    [InlineData("""{"model_type":"vit","num_hidden_layers":0}""", "num_hidden_layers 0")]
    public void Bad_configs_are_errors_naming_the_field(string json, string message)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => VitConfig.FromJson(json));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Images_of_the_wrong_size_or_channels_are_errors_naming_the_shape()
    {
        var c = Tiny();
        using var model = new VitModel(c);
        using var wrongSize = Tensor.Zeros(1, 1, 12, 12);
        using var wrongChannels = Tensor.Zeros(1, 3, 8, 8);
        Assert.Contains("(N, 1, 8, 8)", Assert.Throws<ArgumentException>(() => model.Encode(wrongSize)).Message);
        Assert.Contains("(N, 1, 8, 8)", Assert.Throws<ArgumentException>(() => model.Encode(wrongChannels)).Message);
    }
}
