using System.CommandLine;
using Lathe.Formats;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Images;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision vit train|eval`: a Vision Transformer classifier on Fashion-MNIST. train builds (or resumes)
/// a ViT, trains it with VitClassifierTraining and prints the final test figures as JSON; eval loads a checkpoint and
/// prints accuracy, loss and per-class accuracy.</summary>
internal static class VisionVit
{
    public static Command Create()
    {
        var vit = new Command("vit", "Vision Transformer classifier on Fashion-MNIST: train, eval.");
        vit.Subcommands.Add(Train());
        vit.Subcommands.Add(Eval());
        return vit;
    }

    static Command Train()
    {
        var d = new VisionTrainingOptions();
        var c = new VitConfig();
        var run = new VitRunOptions();
        var @out = new Option<string>("--out") { Description = "Run folder: checkpoint/, metrics.jsonl.", Required = true };
        var data = new Option<string?>("--data") { Description = "Folder of the Fashion-MNIST IDX files (default: Debian's /usr/share/datasets/fashion-mnist)." };
        var steps = new Option<int>("--steps") { Description = "Training steps.", DefaultValueFactory = _ => d.Steps };
        var batch = new Option<int>("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => d.BatchSize };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (warm-up, then cosine to 10%).", DefaultValueFactory = _ => d.LearningRate };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => d.WarmupSteps };
        var decay = new Option<float>("--weight-decay") { Description = "AdamW weight decay (matrices only).", DefaultValueFactory = _ => d.WeightDecay };
        var width = new Option<int>("--width") { Description = "Hidden size.", DefaultValueFactory = _ => c.Width };
        var depth = new Option<int>("--depth") { Description = "Encoder blocks.", DefaultValueFactory = _ => c.Depth };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => c.Heads };
        var mlp = new Option<int>("--mlp-ratio") { Description = "MLP hidden width ÷ hidden size.", DefaultValueFactory = _ => 4 };
        var patch = new Option<int>("--patch") { Description = "Patch side (must divide 28).", DefaultValueFactory = _ => c.Patch };
        var pool = new Option<string>("--pool") { Description = "cls (a class token) or mean (mean of the patch tokens).", DefaultValueFactory = _ => c.Pooling };
        var positions = new Option<string>("--positions") { Description = "learned or sincos (fixed 2-D sine-cosine).", DefaultValueFactory = _ => c.Positions };
        var dropout = new Option<float>("--dropout") { Description = "Dropout on embeddings and residual branches.", DefaultValueFactory = _ => 0f };
        var augment = new Option<string>("--augment") { Description = "none, crop (random crop with 2-pixel padding), flip (horizontal) or crop-flip.", DefaultValueFactory = _ => "crop-flip" };
        var smoothing = new Option<float>("--label-smoothing") { Description = "Label smoothing ε of the cross-entropy, in [0, 1) (0: none).", DefaultValueFactory = _ => 0f };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the initialisation, data order, augmentation and dropout.", DefaultValueFactory = _ => d.Seed };
        var trainLimit = new Option<int>("--train-limit") { Description = "Train on the first N training images only (0: all 60,000).", DefaultValueFactory = _ => 0 };
        var evalEvery = new Option<int>("--eval-every") { Description = "Steps between test-set evaluations (0: only at the end).", DefaultValueFactory = _ => 0 };
        var evalLimit = new Option<int>("--eval-limit") { Description = "Test images used by the evaluations during training (0: all; the final one uses all).", DefaultValueFactory = _ => 0 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints (0: only at the end).", DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint (its model config and saved options; --steps may extend it)." };
        var command = new Command("train", "Train a ViT classifier on Fashion-MNIST; prints progress, then the test accuracy as JSON last.")
        {
            @out, data, steps, batch, lr, warmup, decay, width, depth, heads, mlp, patch, pool, positions, dropout, augment, smoothing, threads, seed,
            trainLimit, evalEvery, evalLimit, checkpointEvery, resume,
        };
        command.SetAction(r =>
        {
            string dir = r.GetValue(@out)!;
            int t = r.GetValue(threads);
            if (t <= 0) throw new UserInputException($"vision vit train: --threads {t} must be positive");
            var (crop, flip) = ImageAugment.Parse(r.GetValue(augment)!);
            int limit = r.GetValue(trainLimit), every = r.GetValue(evalEvery), evalN = r.GetValue(evalLimit), ratio = r.GetValue(mlp);
            if (limit < 0) throw new UserInputException($"vision vit train: --train-limit {limit} must not be negative");
            if (every < 0 || evalN < 0) throw new UserInputException("vision vit train: --eval-every and --eval-limit must not be negative");
            float eps = r.GetValue(smoothing);
            if (!(eps >= 0 && eps < 1)) throw new UserInputException($"vision vit train: --label-smoothing {eps} must be in [0, 1)");
            if (ratio <= 0) throw new UserInputException($"vision vit train: --mlp-ratio {ratio} must be positive");
            var options = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), WarmupSteps = r.GetValue(warmup),
                WeightDecay = r.GetValue(decay), Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(checkpointEvery),
            }.Validate();
            string checkpoint = Path.Combine(dir, Checkpoint.Folder);
            bool resuming = r.GetValue(resume);
            VitConfig config;
            if (resuming)
            {
                if (!File.Exists(Path.Combine(checkpoint, Checkpoint.StateFile)))
                    throw new FileNotFoundException($"vision vit train: --resume: {checkpoint} holds no checkpoint to resume from");
                config = VitConfig.FromJson(File.ReadAllText(Path.Combine(checkpoint, Checkpoint.ConfigFile)));
                var saved = System.Text.Json.JsonSerializer.Deserialize<VisionTrainerState>(File.ReadAllText(Path.Combine(checkpoint, Checkpoint.StateFile)))?.Options
                    ?? throw new InvalidDataException($"{checkpoint}: empty trainer state");
                options = r.GetResult(steps) is null ? saved : saved with { Steps = options.Steps };
            }
            else
            {
                int side = FashionMnist.Side, p = r.GetValue(patch), w = r.GetValue(width), h = r.GetValue(heads);
                if (p <= 0 || side % p != 0) throw new UserInputException($"vision vit train: --patch {p} does not divide the {side}-pixel images");
                if (r.GetValue(pool) is not ("cls" or "mean")) throw new UserInputException($"vision vit train: --pool '{r.GetValue(pool)}' is not one of cls, mean");
                if (r.GetValue(positions) is not ("learned" or "sincos")) throw new UserInputException($"vision vit train: --positions '{r.GetValue(positions)}' is not one of learned, sincos");
                if (w <= 0 || h <= 0 || w % h != 0) throw new UserInputException($"vision vit train: --width {w} must be a positive multiple of --heads {h}");
                config = new VitConfig
                {
                    Width = r.GetValue(width), Depth = r.GetValue(depth), Heads = r.GetValue(heads), Patch = r.GetValue(patch),
                    Intermediate = ratio * r.GetValue(width), Pooling = r.GetValue(pool)!, Positions = r.GetValue(positions)!,
                    Dropout = r.GetValue(dropout), ImageSize = FashionMnist.Side, Channels = 1, Labels = FashionMnist.ClassNames.Count,
                }.Validate();
            }
            ComputePool.SetSharedThreads(t);
            string? folder = r.GetValue(data);
            var train = FashionMnist.Train(folder);
            if (limit > 0) train = train.Take(limit);
            var test = FashionMnist.Test(folder);
            using var model = new VitModel(config, options.Seed);
            Console.Error.WriteLine($"vit: {model.Parameters.Sum(p => (long)p.Value.Length):N0} parameters, {config.Tokens} tokens, {train.Count:N0} training images, {options.Steps} steps of {options.BatchSize}");
            using var console = new TrainingConsole();
            var result = VitClassifierTraining.Run(model, train, test, options,
                new VitRunOptions { CropPad = crop ? 2 : 0, Flip = flip, LabelSmoothing = eps, EvalEvery = every, EvalLimit = evalN }, dir, resuming, Console.Error, console.Token);
            Console.Error.WriteLine($"vit: test accuracy {result.Test.Accuracy:P2} after {result.Steps} steps ({result.Seconds:F0} s); checkpoint in {checkpoint}");
            BenchSupport.PrintJson(("model", "vit"), ("out", dir), ("steps", result.Steps), ("seconds", result.Seconds), ("images_per_s", result.ImagesPerSecond),
                ("test_accuracy", result.Test.Accuracy), ("test_loss", result.Test.Loss), ("interrupted", result.Interrupted), ("threads", t));
            return result.Interrupted ? 130 : 0;
        });
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "A ViT checkpoint folder (or a run folder holding checkpoint/).", Required = true };
        var data = new Option<string?>("--data") { Description = "Folder of the Fashion-MNIST IDX files (default: Debian's)." };
        var split = new Option<string>("--split") { Description = "test or train.", DefaultValueFactory = _ => "test" };
        var limit = new Option<int>("--limit") { Description = "Evaluate the first N images only (0: all).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print one JSON object only." };
        var command = new Command("eval", "Accuracy, loss and per-class accuracy of a ViT classifier on Fashion-MNIST.") { model, data, split, limit, threads, json };
        command.SetAction(r =>
        {
            string s = r.GetValue(split)!, dir = r.GetValue(model)!;
            int t = r.GetValue(threads), n = r.GetValue(limit);
            if (s is not ("test" or "train")) throw new UserInputException($"vision vit eval: --split '{s}' is not one of test, train");
            if (t <= 0) throw new UserInputException($"vision vit eval: --threads {t} must be positive");
            if (n < 0) throw new UserInputException($"vision vit eval: --limit {n} must not be negative");
            if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"vision vit eval: --model {dir}: no such folder");
            ComputePool.SetSharedThreads(t);
            using var vit = VisionCheckpoint.Load<VitModel>(dir, "a ViT classifier");
            if (vit.Config.Labels == 0) throw new UserInputException($"vision vit eval: --model {dir} is an encoder only (num_labels 0)");
            var set = s == "test" ? FashionMnist.Test(r.GetValue(data)) : FashionMnist.Train(r.GetValue(data));
            var score = ClassifierEvaluation.Evaluate(vit, set, limit: n);
            if (!r.GetValue(json))
            {
                Console.WriteLine($"{s}: accuracy {score.Accuracy:P2}, loss {score.Loss:F4} on {score.Count:N0} images");
                for (int k = 0; k < score.PerClassAccuracy.Length; k++)
                    Console.WriteLine($"  {(k < set.ClassNames.Count ? set.ClassNames[k] : k.ToString()),-12} {score.PerClassAccuracy[k],8:P2}  ({score.PerClassCount[k]} images)");
            }
            BenchSupport.PrintJson(("model", dir), ("split", s), ("images", score.Count), ("accuracy", score.Accuracy), ("loss", score.Loss),
                ("per_class_accuracy", score.PerClassAccuracy));
            return 0;
        });
        return command;
    }
}
