using System.Text.Json;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Nerf;
using Lathe.Vision.Training;

namespace Lathe.Tests.Vision;

/// <summary>The whole NeRF: rendered colours and every parameter's gradient against a plain-PyTorch NeRF on the same
/// weights (fixtures/make_nerf_fixtures.py), checkpoints, a short fit that must lower the loss, and the scene loader's
/// errors on bad files.</summary>
public class NerfModelTests
{
    [Fact]
    public void RenderAndGradientsMatchPyTorch()
    {
        var f = NerfFixture.Get("model");
        using var model = NerfModel.FromConfigJson(f["config"]!.ToJsonString());
        foreach (var p in model.Parameters)
        {
            var w = NerfFixture.Floats(f["weights"]![p.Name]!);
            Assert.Equal(p.Value.Length, w.Length);
            w.CopyTo(p.Value.AsSpan());
        }
        Assert.Equal(f["weights"]!.AsObject().Count, model.Parameters.Count);
        using var batch = new RayBatch(model.Config, 4);
        NerfFixture.Floats(f["origins"]!).CopyTo(batch.Origins, 0);
        NerfFixture.Floats(f["directions"]!).CopyTo(batch.RayDirections, 0);
        batch.Prepare(null);
        using var upstream = Tensor.FromArray(NerfFixture.Floats(f["upstream"]!), 4, 3);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var colour = model.Render(batch);
            NerfFixture.Close("colour", NerfFixture.Floats(f["colour"]!), colour.ToArray(), 2e-5f);
            tape.Backward(colour, upstream);
        }
        // Float32 against float64 through three layers, the encoding's sines at 2²π and an exp per sample.
        foreach (var p in model.Parameters)
            NerfFixture.Close($"d/d {p.Name}", NerfFixture.Floats(f["grads"]![p.Name]!), p.Value.Grad!.ToArray(), 1e-4f);
    }

    static NerfConfig Tiny => new() { Width = 32, Depth = 2, Skip = -1, PositionFrequencies = 4, Samples = 16 };

    [Fact]
    public void CheckpointRoundTrips()
    {
        string dir = Directory.CreateTempSubdirectory("lathe-nerf").FullName;
        try
        {
            using var model = new NerfModel(Tiny with { ViewDependent = true }, seed: 9);
            VisionCheckpoint.Save(dir, model);
            Assert.Equal("nerf", VisionCheckpoint.ModelTypeOf(dir));
            using var loaded = VisionCheckpoint.Load<NerfModel>(dir, "a NeRF");
            Assert.Equal(model.Config.ViewDependent, loaded.Config.ViewDependent);
            Assert.Equal(model.Config.Width, loaded.Config.Width);
            for (int i = 0; i < model.Parameters.Count; i++)
            {
                Assert.Equal(model.Parameters[i].Name, loaded.Parameters[i].Name);
                Assert.Equal(model.Parameters[i].Value.ToArray(), loaded.Parameters[i].Value.ToArray());
            }
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ShortFitLowersTheLossAndIsDeterministic()
    {
        var scene = NerfScene.Load(NerfFixture.SceneFolder, "train");
        float[] Fit()
        {
            using var model = new NerfModel(Tiny, seed: 3);
            var options = new VisionTrainingOptions { Steps = 30, BatchSize = 128, LearningRate = 5e-3f, WarmupSteps = 5, WeightDecay = 0f, Seed = 3 };
            using var trainer = new VisionTrainer(model.Parameters, options, null);
            using var fitter = new NerfFitter(model, scene, trainer);
            var losses = new float[options.Steps];
            for (int i = 0; i < options.Steps; i++) losses[i] = fitter.Step();
            return losses;
        }
        var a = Fit();
        double first = a.Take(5).Average(), last = a.Skip(25).Average();
        Assert.True(last < 0.75 * first, $"batch MSE went from {first:F4} (first 5 steps) to {last:F4} (last 5)");
        Assert.Equal(a, Fit());
    }

    static string BadScene(string transforms, bool withImage = true)
    {
        string dir = Directory.CreateTempSubdirectory("lathe-nerf-scene").FullName;
        File.WriteAllText(Path.Combine(dir, "transforms_train.json"), transforms);
        if (withImage)
        {
            Directory.CreateDirectory(Path.Combine(dir, "train"));
            File.Copy(Path.Combine(NerfFixture.SceneFolder, "train", "r_0.png"), Path.Combine(dir, "train", "r_0.png"));
            File.Copy(Path.Combine(NerfFixture.SceneFolder, "test", "r_0.png"), Path.Combine(dir, "train", "r_1.png"));
        }
        return dir;
    }

    const string Identity = "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]";

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "not a JSON object")]
    [InlineData("{\"frames\": []}", "field 'camera_angle_x'")]
    [InlineData("{\"camera_angle_x\": 4.0, \"frames\": []}", "field 'camera_angle_x'")]
    [InlineData("{\"camera_angle_x\": 0.7}", "field 'frames'")]
    [InlineData("{\"camera_angle_x\": 0.7, \"frames\": []}", "field 'frames'")]
    [InlineData("{\"camera_angle_x\": 0.7, \"frames\": [{\"transform_matrix\": " + Identity + "}]}", "frames[0]: field 'file_path'")]
    [InlineData("{\"camera_angle_x\": 0.7, \"frames\": [{\"file_path\": \"./train/r_0\"}]}", "frames[0]: field 'transform_matrix'")]
    [InlineData("{\"camera_angle_x\": 0.7, \"frames\": [{\"file_path\": \"./train/r_0\", \"transform_matrix\": [[1,0,0],[0,1,0],[0,0,1],[0,0,0]]}]}", "frames[0]: field 'transform_matrix'")]
    [InlineData("{\"camera_angle_x\": 0.7, \"frames\": [{\"file_path\": \"./train/r_0\", \"transform_matrix\": [[1,0,0,\"x\"],[0,1,0,0],[0,0,1,4],[0,0,0,1]]}]}", "frames[0]: field 'transform_matrix'")]
    public void LoaderNamesTheFileAndField(string transforms, string expected)
    {
        string dir = BadScene(transforms);
        try
        {
            var e = Assert.Throws<InvalidDataException>(() => NerfScene.Load(dir, "train"));
            Assert.Contains("transforms_train.json", e.Message);
            Assert.Contains(expected, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LoaderNamesAMissingImageAndAMissingFile()
    {
        string dir = BadScene("{\"camera_angle_x\": 0.7, \"frames\": [{\"file_path\": \"./train/r_0\", \"transform_matrix\": " + Identity + "},"
            + "{\"file_path\": \"./train/missing\", \"transform_matrix\": " + Identity + "}]}");
        try
        {
            var e = Assert.Throws<FileNotFoundException>(() => NerfScene.Load(dir, "train"));
            Assert.Contains("frames[1]: file_path './train/missing'", e.Message);
            Assert.Throws<FileNotFoundException>(() => NerfScene.Load(dir, "val"));
            Assert.Throws<DirectoryNotFoundException>(() => NerfScene.Load(Path.Combine(dir, "nowhere"), "train"));
            File.WriteAllBytes(Path.Combine(dir, "train", "r_1.png"), [1, 2, 3]);
            File.WriteAllText(Path.Combine(dir, "transforms_train.json"), "{\"camera_angle_x\": 0.7, \"frames\": [{\"file_path\": \"train/r_1.png\", \"transform_matrix\": " + Identity + "}]}");
            var bad = Assert.Throws<InvalidDataException>(() => NerfScene.Load(dir, "train"));
            Assert.Contains("r_1.png", bad.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void ConfigRejectsBadValuesByName()
    {
        Assert.Contains("skip", Assert.Throws<ArgumentException>(() => new NerfConfig { Depth = 2, Skip = 2 }.Validate()).Message);
        Assert.Contains("far", Assert.Throws<ArgumentException>(() => new NerfConfig { Near = 3, Far = 2 }.Validate()).Message);
        Assert.Contains("density_activation", Assert.Throws<ArgumentException>(() => new NerfConfig { DensityActivation = "exp" }.Validate()).Message);
        var json = JsonSerializer.Serialize(new NerfConfig { Samples = 1 });
        Assert.Contains("samples", Assert.Throws<ArgumentException>(() => NerfModel.FromConfigJson(json)).Message);
    }
}
