using System.CommandLine;
using System.Text.Json;
using Lathe.Tensors.Threading;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Metrics;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision clip train|eval`: train a CLIP on Fashion-MNIST's images and captions; measure zero-shot
/// accuracy and image ↔ text retrieval on the test split.</summary>
internal static class VisionClip
{
    public static Command Create()
    {
        var clip = new Command("clip", "CLIP: a ViT image tower and a GPT-2 text tower trained contrastively on Fashion-MNIST captions.");
        clip.Subcommands.Add(Train());
        clip.Subcommands.Add(Eval());
        return clip;
    }

    static Command Train()
    {
        var output = new Option<string>("--out") { Description = "Run folder (metrics.jsonl, checkpoint/ with config, weights, tokenizer.json).", Required = true };
        var vision = new Option<string?>("--vision") { Description = "A trained ViT checkpoint to start the image tower from (its shape is used)." };
        var config = new Option<string?>("--config") { Description = "A CLIP config.json (vision_config, text_config, projection_dim); default: a small one." };
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-size") { Description = "Pairs per step (the contrastive batch).", DefaultValueFactory = _ => 128 };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (warm-up, then cosine).", DefaultValueFactory = _ => 1e-3f };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => 50 };
        var images = new Option<int>("--images") { Description = "Train on the first N training images (0: all 60,000).", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation and data order.", DefaultValueFactory = _ => 1 };
        var every = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints (0: at the end).", DefaultValueFactory = _ => 200 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out." };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: Debian's)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("train", "Train a CLIP on Fashion-MNIST training images and their captions.")
            { output, vision, config, steps, batch, lr, warmup, images, seed, every, resume, data, threads };
        command.SetAction(r =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException($"vision clip train: --threads {r.GetValue(threads)} must be positive");
            if (r.GetValue(images) < 0) throw new UserInputException($"vision clip train: --images {r.GetValue(images)} must not be negative");
            string? visionDir = r.GetValue(vision);
            if (visionDir is not null && !Directory.Exists(visionDir)) throw new DirectoryNotFoundException($"--vision {visionDir}: no such folder");
            var cfg = new ClipConfig();
            if (r.GetValue(config) is { } path)
            {
                if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: not found", path);
                try { cfg = ClipConfig.FromJson(File.ReadAllText(path)); }
                catch (InvalidDataException e) { throw new InvalidDataException($"{path}: {e.Message}"); }
            }
            var training = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), WarmupSteps = r.GetValue(warmup),
                WeightDecay = 0.1f, Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(every),
            }.Validate();
            if (training.BatchSize < 2) throw new UserInputException("vision clip train: --batch-size must be at least 2 (the loss contrasts pairs within a batch)");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var console = new TrainingConsole();
            long last = 0;
            var progress = new SyncProgress<ClipTrainingProgress>(p =>
            {
                long now = Environment.TickCount64;
                if (p.Step != p.Steps && now - last < 5000) return;
                last = now;
                Console.Error.WriteLine($"step {p.Step}/{p.Steps}  loss {p.Loss:F4}  logit scale {MathF.Exp(MathF.Min(p.LogitScale, ClipConfig.MaxLogitScale)):F1}  {p.ImagesPerSecond:F0} pairs/s");
            });
            var result = ClipTraining.Run(new ClipTrainingOptions
            {
                OutDir = r.GetValue(output)!, VisionDir = visionDir, DataDir = r.GetValue(data), Images = r.GetValue(images),
                Config = cfg, Training = training, Resume = r.GetValue(resume),
            }, progress, console.Token);
            Console.Error.WriteLine($"trained {result.Steps} steps in {result.Seconds:F0} s ({result.ImagesPerSecond:F0} pairs/s); loss {result.FirstLoss:F4} → {result.FinalLoss:F4} → {result.CheckpointDir}");
            return 0;
        });
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "A CLIP run or checkpoint folder.", Required = true };
        var pool = new Option<int>("--pool") { Description = "Retrieval pool: test pairs ranked against each other (recalls averaged over pools).", DefaultValueFactory = _ => 1000 };
        var images = new Option<int>("--images") { Description = "Evaluate on the first N test images (0: all 10,000).", DefaultValueFactory = _ => 0 };
        var json = new Option<bool>("--json") { Description = "Print the figures as one JSON object." };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: Debian's)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("eval", "Zero-shot accuracy and image ↔ text retrieval recall@1/@5 of a CLIP on the test split.") { model, pool, images, json, data, threads };
        command.SetAction(r =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException($"vision clip eval: --threads {r.GetValue(threads)} must be positive");
            string dir = r.GetValue(model)!;
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--model {dir}: no such folder");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            var test = FashionMnist.Test(r.GetValue(data));
            if (r.GetValue(images) < 0) throw new UserInputException($"vision clip eval: --images {r.GetValue(images)} must not be negative");
            if (r.GetValue(images) > 0) test = test.Take(r.GetValue(images));
            int p = r.GetValue(pool);
            if (p < 5 || p > test.Count) throw new UserInputException($"vision clip eval: --pool {p} must be between 5 and the {test.Count} test images");
            var (clip, tokenizer) = ClipTraining.Load(dir);
            using (clip)
            {
                clip.Vision.CheckImages(test.Batch([0]));
                var result = ClipEvaluation.Evaluate(clip, tokenizer, test, CaptionSet.Build(test, CaptionSplit.Test), p);
                if (r.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(result));
                else
                {
                    Console.WriteLine($"zero-shot accuracy        {result.ZeroShotAccuracy:P2} ({ClipEvaluation.ZeroShotPrompts.Count} prompts per class; {result.ZeroShotAttributeEnsemble:P2} with every caption wording)");
                    Console.WriteLine($"image → text recall@1/@5  {result.ImageToTextR1:P2} / {result.ImageToTextR5:P2}");
                    Console.WriteLine($"text → image recall@1/@5  {result.TextToImageR1:P2} / {result.TextToImageR5:P2} (held-out wordings @1: {result.TextToImageR1HeldOut:P2})");
                    Console.WriteLine($"over {result.RetrievalPools} pools of {result.RetrievalPool} test pairs; {result.TestImages} test images; logit scale {result.LogitScale:F1}");
                }
            }
            return 0;
        });
        return command;
    }

    // Reports on the training thread, in order (Progress<T> would post to the thread pool).
    sealed class SyncProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
