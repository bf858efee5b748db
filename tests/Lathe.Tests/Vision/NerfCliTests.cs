using Lathe.Tests.Cli;

namespace Lathe.Tests.Vision;

/// <summary>`lathe vision nerf train|eval|render` end to end on a tiny network, and its one-line errors (exit 2).</summary>
public class NerfCliTests
{
    [Fact]
    public void TrainEvalRender()
    {
        using var lathe = new LatheProcess();
        string scene = NerfFixture.SceneFolder;
        var train = lathe.Run("vision", "nerf", "train", "--scene", scene, "--out", "run", "--steps", "4", "--rays", "64",
            "--samples", "8", "--width", "16", "--depth", "2", "--skip", "-1", "--frequencies", "2", "--warmup", "1");
        Assert.True(train.Code == 0, train.Stderr);
        Assert.Contains("held-out PSNR", train.Stdout);
        var eval = lathe.Run("vision", "nerf", "eval", "--model", "run", "--scene", scene, "--json");
        Assert.True(eval.Code == 0, eval.Stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(eval.Stdout.Trim().Split('\n')[^1]);
        Assert.Equal(8, doc.RootElement.GetProperty("views").GetInt32());
        double psnr = doc.RootElement.GetProperty("psnr").GetDouble();
        Assert.InRange(psnr, 3, 40);
        var render = lathe.Run("vision", "nerf", "render", "--model", "run", "--scene", scene, "--view", "all", "--compare", "--upscale", "1", "--out", "cmp.png");
        Assert.True(render.Code == 0, render.Stderr);
        Assert.Contains("wrote cmp.png (92×356)", render.Stdout);
        Assert.True(File.Exists(lathe.PathOf("cmp.png")));
    }

    [Fact]
    public void BadInputIsOneLineAndExitTwo()
    {
        using var lathe = new LatheProcess();
        var missing = lathe.Run("vision", "nerf", "train", "--scene", "nowhere", "--out", "run", "--steps", "1");
        Assert.Equal(2, missing.Code);
        Assert.Contains("--scene nowhere", missing.Stderr);
        Directory.CreateDirectory(lathe.PathOf("bad"));
        File.WriteAllText(lathe.PathOf("bad/transforms_train.json"), "{\"camera_angle_x\": 0.7, \"frames\": 3}");
        var bad = lathe.Run("vision", "nerf", "train", "--scene", "bad", "--out", "run", "--steps", "1");
        Assert.Equal(2, bad.Code);
        Assert.Contains("transforms_train.json: field 'frames'", bad.Stderr);
        Assert.Single(bad.Stderr.Trim().Split('\n'));
        var view = lathe.Run("vision", "nerf", "render", "--model", "nowhere", "--scene", NerfFixture.SceneFolder, "--out", "x.png");
        Assert.Equal(2, view.Code);
        var steps = lathe.Run("vision", "nerf", "train", "--scene", NerfFixture.SceneFolder, "--out", "run", "--steps", "0");
        Assert.Equal(2, steps.Code);
        Assert.Contains("--steps", steps.Stderr);
    }
}
