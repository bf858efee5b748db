using System.Text.Json;
using Lathe.Tests.Cli;

namespace Lathe.Tests.Vision;

/// <summary>`lathe vision gan|flow …` end to end on a few images, and their bad-input errors: one line naming the
/// parameter or file, exit code 2.</summary>
public class GenerativeCliTests
{
    static void AssertBadInput((int Code, string Stdout, string Stderr) r, string names)
    {
        Assert.True(r.Code == 2, $"exit {r.Code}: {r.Stderr}");
        Assert.Contains(names, r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'));
    }

    static bool IsPng(string path) => File.ReadAllBytes(path).AsSpan(0, 8).SequenceEqual(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A });

    [Fact]
    public void Flow_trains_evaluates_and_samples()
    {
        using var lathe = new LatheProcess();
        var train = JsonDocument.Parse(lathe.RunOk("vision", "flow", "train", "--out", "run", "--steps", "3", "--batch-size", "4", "--train-images", "32",
            "--eval-images", "16", "--couplings", "2", "--hidden", "16", "--threads", "1").Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(3, train.GetProperty("steps").GetInt32());
        double trained = train.GetProperty("test_bits_per_dim").GetDouble();
        Assert.InRange(trained, 1, 20);
        var eval = JsonDocument.Parse(lathe.RunOk("vision", "flow", "eval", "--model", "run", "--images", "16", "--threads", "1").Trim()).RootElement;
        Assert.Equal(trained, eval.GetProperty("test_bits_per_dim").GetDouble(), 3);   // same images, same noise seed
        lathe.RunOk("vision", "flow", "sample", "--model", "run", "--out", "flow.png", "--count", "4");
        Assert.True(IsPng(lathe.PathOf("flow.png")));

        AssertBadInput(lathe.Run("vision", "flow", "sample", "--model", "run", "--out", "x.png", "--temperature", "0"), "--temperature");
        AssertBadInput(lathe.Run("vision", "gan", "sample", "--model", "run", "--out", "x.png"), "not a DCGAN");
        AssertBadInput(lathe.Run("vision", "flow", "sample", "--model", "run", "--out", "no/such/folder/x.png"), "--out");
    }

    [Fact]
    public void Gan_trains_resumes_and_samples()
    {
        using var lathe = new LatheProcess();
        string[] args = ["vision", "gan", "train", "--out", "run", "--steps", "2", "--batch-size", "4", "--train-images", "32", "--features", "8", "--latent", "8", "--threads", "1"];
        var train = JsonDocument.Parse(lathe.RunOk([.. args, "--samples", "train.png"]).Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(2, train.GetProperty("steps").GetInt32());
        Assert.True(IsPng(lathe.PathOf("train.png")));
        Assert.True(File.Exists(lathe.PathOf("run/checkpoint/generator.optimizer.safetensors")));
        Assert.True(File.Exists(lathe.PathOf("run/checkpoint/discriminator.optimizer.safetensors")));
        var resumed = JsonDocument.Parse(lathe.RunOk([.. args[..6], "4", .. args[7..], "--resume"]).Trim().Split('\n')[^1]).RootElement;
        Assert.Equal(4, resumed.GetProperty("steps").GetInt32());
        lathe.RunOk("vision", "gan", "sample", "--model", "run", "--out", "g.png", "--per-class", "2");
        Assert.True(IsPng(lathe.PathOf("g.png")));

        AssertBadInput(lathe.Run("vision", "gan", "sample", "--model", "run", "--out", "x.png", "--labels", "3,12"), "--labels");
        AssertBadInput(lathe.Run("vision", "flow", "eval", "--model", "run"), "not a RealNVP flow");
    }

    [Fact]
    public void Bad_arguments_and_files_are_one_line_exit_2()
    {
        using var lathe = new LatheProcess();
        AssertBadInput(lathe.Run("vision", "flow", "train", "--out", "r", "--steps", "0"), "--steps");
        AssertBadInput(lathe.Run("vision", "flow", "train", "--out", "r", "--couplings", "0"), "--couplings");
        AssertBadInput(lathe.Run("vision", "flow", "train", "--out", "r", "--data", "no-such-dir"), "no-such-dir");
        AssertBadInput(lathe.Run("vision", "flow", "eval", "--model", "missing"), "missing");
        AssertBadInput(lathe.Run("vision", "gan", "train", "--out", "r", "--beta1", "1.5"), "--beta1");
        AssertBadInput(lathe.Run("vision", "gan", "train", "--out", "r", "--features", "12"), "--features");
        AssertBadInput(lathe.Run("vision", "gan", "train", "--out", "r", "--resume"), "--resume");
        AssertBadInput(lathe.Run("vision", "gan", "sample", "--model", "missing", "--out", "x.png"), "missing");
        // A truncated IDX file in a --data folder is named.
        Directory.CreateDirectory(lathe.PathOf("bad"));
        File.WriteAllBytes(lathe.PathOf("bad/train-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
        File.WriteAllBytes(lathe.PathOf("bad/t10k-images-idx3-ubyte"), [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
        AssertBadInput(lathe.Run("vision", "gan", "train", "--out", "r", "--data", "bad"), "train-images-idx3-ubyte");
    }
}
