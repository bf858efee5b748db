using System.Buffers.Binary;
using System.Text.Json;
using Lathe.Tests.Cli;

namespace Lathe.Tests.Vision;

/// <summary>The whole chain as a user runs it, on a few Fashion-MNIST images and tiny models: vision vae train →
/// vision vae eval → vision dit train (class-conditional, and unconditional) → generate --prompt → a PNG grid of the
/// right size; and the bad inputs: an unknown class, a prompt for an unconditional model, a bad schedule.</summary>
public sealed class DitCliTests : IClassFixture<DitCliTests.Chain>
{
    public sealed class Chain : IDisposable
    {
        internal LatheProcess Lathe { get; } = new();
        public (int Code, string Stdout, string Stderr) Vae, Dit, Unconditional;

        public Chain()
        {
            Vae = Lathe.Run("vision", "vae", "train", "--out", "vae", "--train-images", "96", "--steps", "3", "--batch-size", "16", "--channels", "8", "--threads", "1");
            Dit = Lathe.Run("vision", "dit", "train", "--vae", "vae", "--out", "dit", "--train-images", "96", "--steps", "3", "--batch-size", "16",
                "--width", "32", "--depth", "1", "--heads", "2", "--schedule", "cosine", "--threads", "1");
            Unconditional = Lathe.Run("vision", "dit", "train", "--vae", "vae", "--out", "dit-u", "--train-images", "96", "--steps", "2", "--batch-size", "16",
                "--width", "32", "--depth", "1", "--heads", "2", "--unconditional", "--threads", "1");
        }

        public void Dispose() => Lathe.Dispose();
    }

    readonly Chain _chain;
    public DitCliTests(Chain chain) => _chain = chain;
    LatheProcess Lathe => _chain.Lathe;

    [Fact]
    public void Vae_then_dit_then_generate_writes_a_png_grid_of_the_right_size()
    {
        Assert.True(_chain.Vae.Code == 0, _chain.Vae.Stderr);
        Assert.True(_chain.Dit.Code == 0, _chain.Dit.Stderr);
        Assert.True(File.Exists(Lathe.PathOf("dit/checkpoint/vae/model.safetensors")));
        var (code, _, err) = Lathe.Run("generate", "--model", "dit", "--prompt", "a sneaker", "--out", "samples.png", "--count", "4", "--sampling-steps", "3", "--threads", "1");
        Assert.True(code == 0, err);
        Assert.Contains("'Sneaker'", err);
        byte[] png = File.ReadAllBytes(Lathe.PathOf("samples.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        // 4 images of 28×28 in 2 columns with a 2-pixel gap around and between: 2·(28 + 2) + 2 = 62 each way.
        Assert.Equal(62, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(62, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    [Fact]
    public void Vae_eval_prints_reconstruction_mse_and_kl_as_json()
    {
        Assert.True(_chain.Vae.Code == 0, _chain.Vae.Stderr);
        var (code, stdout, err) = Lathe.Run("vision", "vae", "eval", "--model", "vae", "--test-images", "64", "--threads", "1");
        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
        Assert.Equal(64, json.RootElement.GetProperty("test_images").GetInt32());
        Assert.InRange(json.RootElement.GetProperty("reconstruction_mse").GetDouble(), 0, 1);
        Assert.True(json.RootElement.GetProperty("kl").GetDouble() >= 0);
    }

    [Fact]
    public void Unknown_class_is_one_line_exit_2_listing_the_classes()
    {
        Assert.True(_chain.Dit.Code == 0, _chain.Dit.Stderr);
        var (code, _, err) = Lathe.Run("generate", "--model", "dit", "--prompt", "a bicycle", "--out", "x.png", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--prompt \"a bicycle\" names none of the classes: T-shirt/top, Trouser", err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(File.Exists(Lathe.PathOf("x.png")));
    }

    [Fact]
    public void Prompt_for_an_unconditional_model_is_exit_2()
    {
        Assert.True(_chain.Unconditional.Code == 0, _chain.Unconditional.Stderr);
        var (code, _, err) = Lathe.Run("generate", "--model", "dit-u", "--prompt", "a sneaker", "--out", "u.png", "--threads", "1");
        Assert.Equal(2, code);
        Assert.Contains("--prompt", err);
        Assert.Contains("unconditional", err);
        var ok = Lathe.Run("generate", "--model", "dit-u", "--out", "u.png", "--count", "1", "--sampling-steps", "2", "--threads", "1");
        Assert.True(ok.Code == 0, ok.Stderr);
    }

    [Fact]
    public void Bad_schedule_and_missing_vae_are_exit_2_naming_the_option()
    {
        var (code, _, err) = Lathe.Run("vision", "dit", "train", "--vae", "vae", "--out", "bad", "--schedule", "quadratic", "--steps", "1");
        Assert.Equal(2, code);
        Assert.Contains("--schedule 'quadratic'", err);
        (code, _, err) = Lathe.Run("vision", "dit", "train", "--vae", "no-such-vae", "--out", "bad2", "--steps", "1", "--train-images", "16");
        Assert.Equal(2, code);
        Assert.Contains("no-such-vae", err);
    }
}
