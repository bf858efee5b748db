using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Inference;
using Lathe.Vision.Layers;
using Lathe.Vision.Training;

namespace Lathe.Tests.Vision;

/// <summary>The whole captioner: KV-cached batched decoding against an uncached greedy decode, the checkpoint round trip,
/// the encoder copied from a trained ViT, and a short training run on Fashion-MNIST captions that must lower the loss
/// (frozen encoder untouched; tuned encoder moving).</summary>
public class CaptionerModelTests
{
    static readonly VitConfig TinyVit = new() { ImageSize = 28, Patch = 7, Width = 32, Depth = 1, Heads = 2, Intermediate = 64, Labels = 0 };

    static CaptionerConfig Tiny(string adapter = "mlp", string decoder = "gpt2", bool tune = false, int vocab = 50, int eot = 0)
    {
        var text = decoder == "gpt2"
            ? new ModelConfig { ModelType = "gpt2", VocabSize = vocab, MaxPositions = 48, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 }
            : new ModelConfig { ModelType = "llama", VocabSize = vocab, MaxPositions = 48, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48, NormEps = 1e-5f, TieEmbeddings = false };
        var a = new VisionAdapterConfig { Kind = adapter, InputDim = 32, OutputDim = 32, Queries = 6, Heads = 2 };
        return new CaptionerConfig(TinyVit, a, text, tune, eot);
    }

    static Tensor Images(int n, int seed)
    {
        var t = Tensor.Zeros(n, 1, 28, 28);
        new Philox((ulong)seed).FillUniform(t.AsSpan(), 0, 1);
        return t;
    }

    // Greedy decoding the slow, obvious way: the whole [image ; eot ; tokens so far] through the training forward each step.
    static List<int> UncachedGreedy(CausalLM lm, Tensor image, int eot, int maxTokens)
    {
        var tokens = new List<int> { eot };
        var result = new List<int>();
        using var tape = new Tape();
        for (int s = 0; s < maxTokens; s++)
        {
            tape.Reset();
            int next;
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                int P = image.Dim(1), T = P + tokens.Count;
                var x = Ops.Concat([image, lm.Embed(tokens.ToArray(), 1, tokens.Count)], 1);
                var logits = Ops.Contiguous(lm.Logits(x, 1, T)).ToArray();
                int V = lm.Config.VocabSize, at = (T - 1) * V;
                next = 0;
                for (int v = 1; v < V; v++) if (logits[at + v] > logits[at + next]) next = v;
            }
            if (next == eot) break;
            result.Add(next);
            tokens.Add(next);
        }
        return result;
    }

    [Theory]
    [InlineData("mlp", "gpt2")]
    [InlineData("resampler", "llama")]
    public void Cached_batched_decoding_equals_an_uncached_greedy_decode(string adapter, string decoder)
    {
        using var images = Images(3, 1);
        // End-of-text = the first id whose greedy caption of image 0 stops before the limit, so image 0 stops early while
        // the others (most likely) run on: a ragged batch.
        int eot = -1;
        using (var probe = new CaptionerModel(Tiny(adapter, decoder), seed: 5))
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var first = Ops.Contiguous(Ops.Narrow(probe.ImageTokens(images), 0, 0, 1));
            for (int e = 0; e < 50 && eot < 0; e++)
                if (UncachedGreedy(probe.Language, first, e, 8).Count < 8) eot = e;
        }
        Assert.True(eot >= 0, "no id ends image 0's greedy caption early");
        using var model = new CaptionerModel(Tiny(adapter, decoder, eot: eot), seed: 5);
        using var tape2 = new Tape();
        using (tape2.Activate())
        using (Tape.NoGrad())
        {
            var tokens = model.ImageTokens(images);
            var cached = CaptionDecoder.Generate(model.Language, tokens, eot, maxTokens: 8, new SamplingOptions { Temperature = 0 });
            for (int i = 0; i < 3; i++)
            {
                var expected = UncachedGreedy(model.Language, Ops.Contiguous(Ops.Narrow(tokens, 0, i, 1)), eot, 8);
                Assert.Equal(expected, cached[i]);
            }
            Assert.True(cached[0].Count < 8, "image 0 should have stopped at its end-of-text");
        }
    }

    [Fact]
    public void Checkpoint_round_trip_and_encoder_copied_from_a_trained_ViT()
    {
        string dir = Directory.CreateTempSubdirectory("lathe-cap").FullName;
        var tokenizer = CaptionTokenizer.Train(["a dark small sandal", "a light large coat", "a mid-tone medium bag"]);
        var config = Tiny("resampler", vocab: tokenizer.VocabSize, eot: tokenizer.EndOfTextId);
        using var images = Images(2, 3);
        string[] before;
        using (var vit = new VitModel(TinyVit with { Labels = 10 }, seed: 9))
        using (var model = new CaptionerModel(config, seed: 2))
        {
            model.LoadVision(vit);
            var encoder = vit.Parameters.First(p => p.Name == "vit.encoder.layer.0.attention.attention.query.weight");
            var mine = model.Parameters.First(p => p.Name == "vision_tower.encoder.layer.0.attention.attention.query.weight");
            Assert.Equal(encoder.Value.ToArray(), mine.Value.ToArray());
            Assert.Contains(model.Parameters, p => p.Name == "multi_modal_projector.query");
            Assert.Contains(model.Parameters, p => p.Name == "language_model.transformer.wte.weight");
            VisionCheckpoint.Save(dir, model);
            CaptionTokenizer.Save(tokenizer, dir);
            using var c = new Captioner(model, tokenizer);
            before = c.Caption(images, 10, new SamplingOptions { Temperature = 0.9f, Seed = 4 });
        }
        Assert.True(Captioner.IsCaptioner(dir));
        using var loaded = Captioner.Open(dir);
        Assert.Equal("resampler", loaded.Model.Config.Adapter.Kind);
        Assert.Equal(before, loaded.Caption(images, 10, new SamplingOptions { Temperature = 0.9f, Seed = 4 }));
        // A ViT whose width differs from the captioner's encoder is refused by name.
        using var wide = new VitModel(TinyVit with { Width = 64, Heads = 2, Labels = 10 }, seed: 1);
        Assert.Contains("vit.", Assert.Throws<InvalidDataException>(() => loaded.Model.LoadVision(wide)).Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_short_training_run_on_Fashion_MNIST_captions_lowers_the_loss(bool tuneVision)
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        var data = FashionMnist.Test().Take(256);
        var entries = CaptionSet.Build(data, CaptionSplit.Test).Entries;
        var captions = entries.Select(e => CaptionSet.Render(CaptionSet.FullTemplate, e.Label, e.Attributes)).ToArray();
        var tokenizer = CaptionTokenizer.Train(captions);
        using var model = new CaptionerModel(Tiny("mlp", tune: tuneVision, vocab: tokenizer.VocabSize, eot: tokenizer.EndOfTextId), seed: 1);
        var encoder = model.Vision.Parameters[^3].Value;
        float[] encoderBefore = encoder.ToArray();
        var options = new VisionTrainingOptions { Steps = 40, BatchSize = 16, LearningRate = 3e-3f, WarmupSteps = 2, Seed = 1 };
        using var run = new CaptionerTraining(model, tokenizer, data, captions, options, runDir: null);
        var losses = new List<float>();
        for (int s = 0; s < options.Steps; s++) losses.Add(run.Step());
        float first = losses.Take(3).Average(), last = losses.TakeLast(5).Average();
        Assert.True(last < 0.6f * first, $"loss went from {first:G4} to {last:G4}");
        Assert.Equal(!tuneVision, encoder.AsSpan().SequenceEqual(encoderBefore));
    }

    [Fact]
    public void Training_resumes_bit_for_bit_from_its_checkpoint()
    {
        if (!FashionMnist.IsInstalled()) Assert.Fail("Fashion-MNIST (Debian's dataset-fashion-mnist) is not installed");
        var data = FashionMnist.Test().Take(48);
        var captions = CaptionSet.Build(data, CaptionSplit.Test).Entries.Select(e => e.Caption).ToArray();
        var tokenizer = CaptionTokenizer.Train(captions);
        var config = Tiny("linear", tune: true, vocab: tokenizer.VocabSize, eot: tokenizer.EndOfTextId);
        var options = new VisionTrainingOptions { Steps = 6, BatchSize = 8, LearningRate = 3e-3f, WarmupSteps = 1, Seed = 2, CheckpointEvery = 3 };
        float[] Run(string dir, int stopAfter)
        {
            using var model = new CaptionerModel(config, seed: 1);
            using var run = new CaptionerTraining(model, tokenizer, data, captions, options, dir);
            run.Resume();
            while (run.Trainer.Step < stopAfter) { run.Step(); run.SaveIfDue(); }
            return model.Parameters.SelectMany(p => p.Value.ToArray()).ToArray();
        }
        string straight = Directory.CreateTempSubdirectory("lathe-cap-a").FullName, split = Directory.CreateTempSubdirectory("lathe-cap-b").FullName;
        float[] expected = Run(straight, 6);
        Run(split, 3);                       // stops after the step-3 checkpoint
        float[] resumed = Run(split, 6);     // a fresh process would do the same: new model, weights and optimizer from disk
        Assert.True(expected.AsSpan().SequenceEqual(resumed), "resumed weights differ from an uninterrupted run");
        Assert.True(File.Exists(Path.Combine(split, "checkpoint", "tokenizer.json")));
    }
}
