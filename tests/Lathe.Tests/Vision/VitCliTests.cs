using System.Text.Json;
using Lathe.Tests.Cli;
using Lathe.Vision.Data;

namespace Lathe.Tests.Vision;

/// <summary>`lathe vision vit train|eval` as a user runs them: a tiny run that trains, checkpoints, resumes and
/// evaluates; and bad input — each a one-line error naming the option or file, exit 2, nothing written.</summary>
public class VitCliTests
{
    static readonly string[] Tiny = ["--width", "16", "--depth", "1", "--heads", "2", "--patch", "7", "--batch-size", "16", "--train-limit", "64", "--threads", "1"];

    static JsonElement LastJson(string stdout) => JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;

    [Fact]
    public void Train_resume_and_eval_a_tiny_ViT()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        using var lathe = new LatheProcess();
        var first = LastJson(lathe.RunOk(["vision", "vit", "train", "--out", "run", "--steps", "3", "--warmup", "1", "--augment", "none", .. Tiny]));
        Assert.Equal(3, first.GetProperty("steps").GetInt32());
        Assert.True(File.Exists(lathe.PathOf("run/checkpoint/model.safetensors")));
        Assert.True(File.Exists(lathe.PathOf("run/metrics.jsonl")));
        var resumed = LastJson(lathe.RunOk("vision", "vit", "train", "--out", "run", "--resume", "--steps", "5", "--threads", "1"));
        Assert.Equal(5, resumed.GetProperty("steps").GetInt32());
        var score = LastJson(lathe.RunOk("vision", "vit", "eval", "--model", "run", "--limit", "200", "--json", "--threads", "1"));
        Assert.Equal(200, score.GetProperty("images").GetInt32());
        Assert.InRange(score.GetProperty("accuracy").GetDouble(), 0, 1);
        Assert.Equal(10, score.GetProperty("per_class_accuracy").GetArrayLength());
        Assert.InRange(resumed.GetProperty("test_accuracy").GetDouble(), 0, 1);
    }

    [Fact]
    public void Bad_options_are_one_line_errors_with_exit_2()
    {
        using var lathe = new LatheProcess();
        foreach (var (args, message) in new (string[], string)[]
        {
            (["vision", "vit", "train", "--pool", "max"], "--pool 'max'"),
            (["vision", "vit", "train", "--positions", "rope"], "--positions 'rope'"),
            (["vision", "vit", "train", "--patch", "5"], "--patch 5 does not divide"),
            (["vision", "vit", "train", "--augment", "rotate"], "--augment 'rotate'"),
            (["vision", "vit", "train", "--width", "10", "--heads", "3"], "--width 10"),
            (["vision", "vit", "train", "--steps", "0"], "--steps 0"),
            (["vision", "vit", "train", "--label-smoothing", "1"], "--label-smoothing 1"),
            (["vision", "vit", "train", "--resume"], "no checkpoint to resume from"),
        })
        {
            var (code, _, stderr) = lathe.Run([.. args, "--out", "bad", "--threads", "1"]);
            Assert.Equal(2, code);
            Assert.Contains(message, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.False(Directory.Exists(lathe.PathOf("bad")));   // nothing written
        }
        Directory.CreateDirectory(lathe.PathOf("empty"));
        foreach (var (args, message) in new (string[], string)[]
        {
            (["vision", "vit", "eval", "--model", "missing"], "missing"),
            (["vision", "vit", "eval", "--model", "empty"], "no config.json"),
            (["vision", "vit", "eval", "--model", "empty", "--split", "val"], "--split 'val'"),
        })
        {
            var (code, _, stderr) = lathe.Run([.. args, "--threads", "1"]);
            Assert.Equal(2, code);
            Assert.Contains(message, stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }
    }

    [Fact]
    public void A_checkpoint_of_another_model_type_is_named_in_the_error()
    {
        using var lathe = new LatheProcess();
        Directory.CreateDirectory(lathe.PathOf("other"));
        File.WriteAllText(lathe.PathOf("other/config.json"), """{"model_type":"gpt2"}""");
        var (code, _, stderr) = lathe.Run("vision", "vit", "eval", "--model", "other", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("model_type 'gpt2'", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    [Fact]
    public void Bench_vision_vit_prints_the_figures_as_JSON_last()
    {
        using var lathe = new LatheProcess();
        var j = LastJson(lathe.RunOk("bench", "vision", "--model", "vit", "--threads", "1", "--steps", "1", "--warmup", "0", "--batch-size", "4"));
        Assert.Equal("vit", j.GetProperty("model").GetString());
        Assert.Equal(50, j.GetProperty("tokens").GetInt32());
        Assert.True(j.GetProperty("images_per_s").GetDouble() > 0);
        Assert.True(j.GetProperty("peak_rss_mb").GetDouble() > 0);
        Assert.Equal(1, j.GetProperty("threads").GetInt32());
    }
}
