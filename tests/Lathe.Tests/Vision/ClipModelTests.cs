using System.Text.Json;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Cli;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Metrics;
using Lathe.Vision.Training;
using Xunit;

namespace Lathe.Tests.Vision;

/// <summary>The CLIP model: finite-difference gradients through both towers, end-of-text reading that ignores padding,
/// a short training run on real Fashion-MNIST images and captions that must lower the loss, the checkpoint round trip
/// (weights and tokenizer), starting the image tower from a ViT, and the CLI's bad-input errors.</summary>
public class ClipModelTests
{
    internal static ClipConfig Tiny(int vocab) => new()
    {
        Vision = new VitConfig { ImageSize = 28, Patch = 7, Width = 32, Depth = 1, Heads = 2, Intermediate = 64, Labels = 0, NormEps = 1e-5f },
        Text = new ModelConfig { ModelType = "gpt2", VocabSize = vocab, MaxPositions = 20, Embd = 32, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 64 },
        ProjectionDim = 16,
    };

    static readonly Lazy<(ImageSet Images, CaptionSet Captions, Lathe.Tokenizers.Tokenizer Tokenizer)> Data = new(() =>
    {
        var images = FashionMnist.Test().Take(256);
        var captions = CaptionSet.Build(images, CaptionSplit.Train);
        return (images, captions, CaptionTokenizer.Train(captions.Entries.Select(e => e.Caption)));
    });

    [Fact]
    public void Gradients_match_finite_differences()
    {
        var (images, captions, tok) = Data.Value;
        var c = Tiny(tok.VocabSize) with { Vision = Tiny(1).Vision with { InitStd = 0.3f }, Text = Tiny(tok.VocabSize).Text with { InitStd = 0.3f } };
        using var model = new ClipModel(c, seed: 3);
        int[] idx = [0, 1, 2, 3];
        using var batch = images.Batch(idx);
        var enc = CaptionBatch.Encode(tok, idx.Select(i => captions.Entries[i].Caption).ToList(), c.Text.MaxPositions);
        var ids = new int[4 * c.Text.MaxPositions];
        var lengths = new int[4];
        int T = enc.Fill(0, 4, ids, lengths);
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(model.Loss(batch, ids.AsSpan(0, 4 * T), lengths, T));
        double Loss()
        {
            tape.Reset();
            using (tape.Activate()) using (Tape.NoGrad()) return model.Loss(batch, ids.AsSpan(0, 4 * T), lengths, T).Item();
        }
        int checkedEntries = 0;
        foreach (var p in model.Parameters)
        {
            if (p.Value.Grad is null) continue;
            float[] analytic = p.Value.Grad.ToArray();
            var data = p.Value.AsSpan();
            // Token embeddings: check a row the captions use (ids[0]), where the gradient is non-zero.
            int[] at = p.Name.EndsWith("wte.weight", StringComparison.Ordinal) ? [ids[0] * c.Text.Embd, ids[0] * c.Text.Embd + 5] : [data.Length / 3, data.Length - 1];
            foreach (int i in at)
            {
                float saved = data[i];
                data[i] = saved + 1e-2f; double plus = Loss();
                data[i] = saved - 1e-2f; double minus = Loss();
                data[i] = saved;
                double numeric = (plus - minus) / 2e-2;
                Assert.True(Math.Abs(numeric - analytic[i]) <= 3e-3 + 3e-2 * Math.Abs(numeric), $"{p.Name}[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
                checkedEntries++;
            }
        }
        Assert.Contains(model.Parameters, p => p.Name == "logit_scale" && p.Value.Grad is not null);
        Assert.True(checkedEntries > 20);
    }

    [Fact]
    public void TextEmbeddingIsReadAtEndOfTextWhateverThePadding()
    {
        var (_, captions, tok) = Data.Value;
        var c = Tiny(tok.VocabSize);
        using var model = new ClipModel(c, seed: 5);
        string caption = captions.Entries[0].Caption;
        float[] Embed(int T)
        {
            var ids = new int[T];
            int len = CaptionTokenizer.Encode(tok, caption, ids);
            return model.TextEmbeddings(ids, [len], T).ToArray();
        }
        var shortest = Embed(CaptionTokenizer.MaxLength(tok, [caption]));
        var padded = Embed(c.Text.MaxPositions);
        for (int i = 0; i < shortest.Length; i++) Assert.Equal(shortest[i], padded[i], 5);
        double norm = Math.Sqrt(shortest.Sum(v => (double)v * v));
        Assert.Equal(1.0, norm, 5);
        Assert.Throws<ArgumentException>(() => model.TextEmbeddings(new int[2 * 21], [3, 4], 21));   // beyond n_positions
    }

    [Fact]
    public void ShortTrainingRunLowersTheLoss_AndTheCheckpointRoundTrips()
    {
        string run = Directory.CreateTempSubdirectory("lathe-clip").FullName;
        string data = FashionMnistSubset(run, 256);
        var options = new ClipTrainingOptions
        {
            OutDir = Path.Combine(run, "out"), DataDir = data, Config = Tiny(512),
            Training = new VisionTrainingOptions { Steps = 60, BatchSize = 32, LearningRate = 3e-3f, WarmupSteps = 5, WeightDecay = 0.1f, Seed = 3 },
        };
        var losses = new List<float>();
        var result = ClipTraining.Run(options, new Collect(losses));
        Assert.Equal(60, result.Steps);
        // ln 32 ≈ 3.47 is chance for a batch of 32; a working model gets well below it in 60 steps.
        double head = losses.Take(5).Average(), tail = losses.TakeLast(10).Average();
        Assert.True(head > 3.2, $"first losses {head:F3} (chance is ln 32 = 3.47)");
        Assert.True(tail < head - 0.5, $"loss {head:F3} → {tail:F3}: did not fall");

        var (model, tokenizer) = ClipTraining.Load(options.OutDir);
        using (model)
        {
            Assert.Equal(result.TokenizerVocab, tokenizer.VocabSize);
            Assert.Equal("clip", VisionCheckpoint.ModelTypeOf(options.OutDir));
            var test = FashionMnist.Test().Take(100);
            var eval = ClipEvaluation.Evaluate(model, tokenizer, test, CaptionSet.Build(test, CaptionSplit.Test), pool: 50);
            Assert.Equal(2, eval.RetrievalPools);
            Assert.InRange(eval.ZeroShotAccuracy, 0, 1);
            Assert.InRange(eval.ImageToTextR1, 0, eval.ImageToTextR5);
            Assert.InRange(eval.TextToImageR1, 0, eval.TextToImageR5);
            // Trained for 60 steps, it already finds the right caption far more often than chance (1 in 50 pairs, or a
            // little more for captions shared by several images).
            Assert.True(eval.ImageToTextR5 > 0.3, $"image → text recall@5 {eval.ImageToTextR5:P1}");
            // Same weights, same embeddings: the loaded model equals the trained one as saved.
            var again = ClipEvaluation.ImageEmbeddings(model, test.Take(8), 8);
            var (model2, _) = ClipTraining.Load(Path.Combine(options.OutDir, "checkpoint"));
            using (model2) Assert.Equal(again, ClipEvaluation.ImageEmbeddings(model2, test.Take(8), 8));
        }
    }

    [Fact]
    public void SameSeedSameBits_AndAnInterruptedRunResumesToTheSameWeights()
    {
        string root = Directory.CreateTempSubdirectory("lathe-clip-resume").FullName;
        string data = FashionMnistSubset(root, 64);
        ClipTrainingOptions Options(string name, bool resume = false) => new()
        {
            OutDir = Path.Combine(root, name), DataDir = data, Config = Tiny(512), Resume = resume,
            Training = new VisionTrainingOptions { Steps = 6, BatchSize = 16, LearningRate = 3e-3f, WarmupSteps = 2, Seed = 11 },
        };
        ClipTraining.Run(Options("a"));
        ClipTraining.Run(Options("b"));
        byte[] Weights(string name) => File.ReadAllBytes(Path.Combine(root, name, "checkpoint", "model.safetensors"));
        Assert.Equal(Weights("a"), Weights("b"));
        // Stopped after step 3 (as Ctrl-C does: the run saves), then resumed: the same weights as the straight run.
        using var cancel = new CancellationTokenSource();
        ClipTraining.Run(Options("c"), new StopAt(3, cancel), cancel.Token);
        Assert.NotEqual(Weights("a"), Weights("c"));
        var resumed = ClipTraining.Run(Options("c", resume: true));
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(Weights("a"), Weights("c"));
    }

    sealed class StopAt(int step, CancellationTokenSource cancel) : IProgress<ClipTrainingProgress>
    {
        public void Report(ClipTrainingProgress p) { if (p.Step == step) cancel.Cancel(); }
    }

    sealed class Collect(List<float> losses) : IProgress<ClipTrainingProgress>
    {
        public void Report(ClipTrainingProgress p) => losses.Add(p.Loss);
    }

    /// <summary>The first <paramref name="n"/> test images written as plain IDX "train" files, so a run reads a small set.</summary>
    internal static string FashionMnistSubset(string root, int n)
    {
        string dir = Path.Combine(root, "fm");
        Directory.CreateDirectory(dir);
        var test = FashionMnist.Test().Take(n);
        foreach (var prefix in new[] { "train", "t10k" })
        {
            IdxFile.Write(Path.Combine(dir, prefix + "-images-idx3-ubyte"), [n, 28, 28], test.Pixels);
            IdxFile.Write(Path.Combine(dir, prefix + "-labels-idx1-ubyte"), [n], test.Labels.Select(l => (byte)l).ToArray());
        }
        return dir;
    }

    [Fact]
    public void ImageTowerStartsFromATrainedVit()
    {
        var c = Tiny(300);
        string dir = Directory.CreateTempSubdirectory("lathe-clip-vit").FullName;
        using (var vit = new VitModel(c.Vision with { Labels = 10 }, seed: 9)) VisionCheckpoint.Save(dir, vit);
        using var model = new ClipModel(c, seed: 1);
        model.LoadVisionTower(dir);
        using var saved = VisionCheckpoint.Load<VitModel>(dir, "a ViT");
        var names = saved.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray());
        foreach (var p in model.Vision.Parameters)
            Assert.Equal(names["vit." + p.Name["vision_model.".Length..]], p.Value.ToArray());
        string other = Directory.CreateTempSubdirectory("lathe-clip-vit2").FullName;
        using (var vit = new VitModel(c.Vision with { Labels = 10, Width = 16, Intermediate = 32 }, seed: 9)) VisionCheckpoint.Save(other, vit);
        Assert.Contains("does not match", Assert.Throws<InvalidDataException>(() => model.LoadVisionTower(other)).Message);
    }

    [Fact]
    public void ConfigRoundTripsAndBadConfigsAreNamed()
    {
        var c = Tiny(300);
        Assert.Equal(c.ToJson(), ClipConfig.FromJson(c.ToJson()).ToJson());
        Assert.Equal(2.65926, ClipConfig.FromJson(c.ToJson()).LogitScaleInit, 5);
        Assert.Contains("vision_config", Assert.Throws<InvalidDataException>(() => ClipConfig.FromJson("{\"model_type\":\"clip\"}")).Message);
        Assert.Contains("projection_dim", Assert.Throws<InvalidDataException>(() => ClipConfig.FromJson(c.ToJson().Replace("\"projection_dim\": 16", "\"projection_dim\": 0"))).Message);
    }

    [Fact]
    public void CliTrainsEvaluatesAndRefusesBadInput()
    {
        using var lathe = new LatheProcess();
        string data = FashionMnistSubset(lathe.Folder, 64);
        File.WriteAllText(lathe.PathOf("tiny.json"), Tiny(512).ToJson());
        var train = lathe.Run("vision", "clip", "train", "--out", "run", "--config", "tiny.json", "--data", data, "--steps", "3", "--batch-size", "16", "--threads", "1");
        Assert.True(train.Code == 0, train.Stderr);
        Assert.Contains("trained 3 steps", train.Stderr);
        var eval = lathe.Run("vision", "clip", "eval", "--model", "run", "--data", data, "--pool", "16", "--json", "--threads", "1");
        Assert.True(eval.Code == 0, eval.Stderr);
        using (var doc = JsonDocument.Parse(eval.Stdout.Trim().Split('\n')[^1]))
        {
            Assert.Equal(64, doc.RootElement.GetProperty("test_images").GetInt32());
            Assert.Equal(4, doc.RootElement.GetProperty("retrieval_pools").GetInt32());
        }
        void Refused(string expected, params string[] args)
        {
            var r = lathe.Run(args);
            Assert.True(r.Code == 2, $"lathe {string.Join(' ', args)}: exit {r.Code}, {r.Stderr}");
            Assert.Contains(expected, r.Stderr);
            Assert.Single(r.Stderr.Trim().Split('\n'));
        }
        Refused("--model nowhere", "vision", "clip", "eval", "--model", "nowhere");
        Refused("--batch-size must be at least 2", "vision", "clip", "train", "--out", "x", "--batch-size", "1", "--data", data);
        Refused("--pool 100", "vision", "clip", "eval", "--model", "run", "--data", data, "--pool", "100");
        File.WriteAllText(lathe.PathOf("bad.json"), "{\"model_type\":\"clip\",\"vision_config\":{}}");
        Refused("text_config", "vision", "clip", "train", "--out", "x", "--config", "bad.json");
        // A ViT checkpoint is not a CLIP.
        using (var vit = new VitModel(Tiny(1).Vision with { Labels = 10 })) VisionCheckpoint.Save(lathe.PathOf("vit"), vit);
        Refused("not a CLIP", "vision", "clip", "eval", "--model", "vit", "--data", data, "--pool", "16");
    }
}
