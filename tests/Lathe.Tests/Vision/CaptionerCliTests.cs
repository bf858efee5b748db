using System.Text.Json;
using Lathe.Tests.Cli;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Images;

namespace Lathe.Tests.Vision;

/// <summary>`lathe vision captioner train|eval` and `lathe generate --image` as a user runs them: a tiny chain from a ViT
/// checkpoint to a caption of a PNG the test writes, and bad input as one-line errors with exit code 2.</summary>
public class CaptionerCliTests
{
    static void WriteTinyVit(string dir)
    {
        using var vit = new VitModel(new VitConfig { ImageSize = 28, Patch = 7, Width = 32, Depth = 1, Heads = 2, Intermediate = 64, Labels = 10 }, seed: 3);
        VisionCheckpoint.Save(Path.Combine(dir, "checkpoint"), vit);
    }

    static void WriteTinyCaptioner(string dir)
    {
        var tokenizer = CaptionTokenizer.Train(["a dark small sandal", "a light large coat"]);
        var text = new Lathe.Models.ModelConfig { ModelType = "gpt2", VocabSize = tokenizer.VocabSize, MaxPositions = 40, Embd = 16, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 32 };
        var vit = new VitConfig { ImageSize = 28, Patch = 7, Width = 16, Depth = 1, Heads = 2, Intermediate = 32, Labels = 0 };
        var adapter = new Lathe.Vision.Layers.VisionAdapterConfig { Kind = "linear", InputDim = 16, OutputDim = 16 };
        using var model = new CaptionerModel(new CaptionerConfig(vit, adapter, text, false, tokenizer.EndOfTextId), seed: 1);
        VisionCheckpoint.Save(dir, model);
        CaptionTokenizer.Save(tokenizer, dir);
    }

    static void WritePng(string path, int width, int height, int channels, int seed)
    {
        var pixels = new byte[width * height * channels];
        new Random(seed).NextBytes(pixels);
        Png.Write(path, new PixelImage(width, height, channels, pixels));
    }

    static void WriteTestImage(string path, int index)
    {
        var test = FashionMnist.Test();
        Png.Write(path, new PixelImage(28, 28, 1, test.Image(index).ToArray()));
    }

    [Fact]
    public void Vit_then_captioner_train_then_generate_image_and_eval()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        using var lathe = new LatheProcess();
        WriteTinyVit(lathe.PathOf("vit"));
        var train = lathe.Run("vision", "captioner", "train", "--vision", "vit", "--out", "cap", "--adapter", "resampler", "--queries", "4",
            "--width", "32", "--layers", "1", "--heads", "2", "--steps", "20", "--batch-size", "16", "--lr", "3e-3", "--warmup", "2",
            "--train-limit", "200", "--threads", "2");
        Assert.True(train.Code == 0, train.Stderr);
        using (var doc = JsonDocument.Parse(train.Stdout.Trim().Split('\n')[^1]))
        {
            Assert.Equal(20, doc.RootElement.GetProperty("steps").GetInt32());
            Assert.True(doc.RootElement.GetProperty("final_loss").GetSingle() < doc.RootElement.GetProperty("first_loss").GetSingle());
        }
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json" }) Assert.True(File.Exists(lathe.PathOf(Path.Combine("cap", "checkpoint", f))), f);

        WriteTestImage(lathe.PathOf("shoe.png"), 0);
        var gen = lathe.Run("generate", "--image", "shoe.png", "--model", "cap", "--max-tokens", "12", "--json");
        Assert.True(gen.Code == 0, gen.Stderr);
        using (var doc = JsonDocument.Parse(gen.Stdout.Trim()))
        {
            string caption = doc.RootElement.GetProperty("text").GetString()!;
            Assert.False(string.IsNullOrWhiteSpace(caption));
        }

        var eval = lathe.Run("vision", "captioner", "eval", "--model", "cap", "--limit", "20", "--batch-size", "10", "--json");
        Assert.True(eval.Code == 0, eval.Stderr);
        using (var doc = JsonDocument.Parse(eval.Stdout.Trim().Split('\n')[^1]))
        {
            Assert.Equal(20, doc.RootElement.GetProperty("images").GetInt32());
            double bleu = doc.RootElement.GetProperty("bleu4").GetDouble(), exact = doc.RootElement.GetProperty("exact_attribute_accuracy").GetDouble();
            Assert.InRange(bleu, 0, 1);
            Assert.InRange(exact, 0, 1);
        }
    }

    [Fact]
    public void Bad_arguments_are_one_line_errors_with_exit_code_2()
    {
        using var lathe = new LatheProcess();
        WriteTinyVit(lathe.PathOf("vit"));
        WriteTinyCaptioner(lathe.PathOf("cap"));
        WritePng(lathe.PathOf("x.png"), 28, 28, 1, 3);
        WritePng(lathe.PathOf("big.png"), 32, 32, 1, 1);
        WritePng(lathe.PathOf("colour.png"), 28, 28, 3, 2);
        foreach (var (args, words) in new (string[], string)[]
        {
            // The wrong size, the wrong channels (colour), a missing file, a model that is no captioner.
            (["generate", "--image", "big.png", "--model", "cap"], "--image big.png: 32×32"),
            (["generate", "--image", "colour.png", "--model", "cap"], "colour"),
            (["generate", "--image", "missing.png", "--model", "cap"], "--image missing.png: not found"),
            (["generate", "--image", "x.png", "--model", "vit"], "captioner"),
            (["vision", "captioner", "train", "--vision", "vit", "--out", "o", "--adapter", "conv"], "--adapter 'conv'"),
            (["vision", "captioner", "train", "--vision", "nowhere", "--out", "o"], "--vision nowhere"),
            (["vision", "captioner", "train", "--vision", "vit", "--out", "o", "--width", "30", "--heads", "4"], "--width 30"),
            (["vision", "captioner", "eval", "--model", "nowhere"], "nowhere"),
        })
        {
            var r = lathe.Run(args);
            Assert.True(r.Code == 2, $"{string.Join(' ', args)}: exit {r.Code}, {r.Stderr}");
            Assert.Contains(words, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
    }
}
