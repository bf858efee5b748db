using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Images;
using Lathe.Vision.Inference;
using Lathe.Vision.Layers;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision captioner train|eval` (a ViT + adapter + language-model captioner on Fashion-MNIST's captions)
/// and the `lathe generate --image` branch that captions one image.</summary>
internal static class VisionCaptioner
{
    public static Command Create()
    {
        var captioner = new Command("captioner", "ViT + adapter + language model: train a captioner on Fashion-MNIST's captions, evaluate BLEU-4 and attribute accuracy.");
        captioner.Subcommands.Add(Train());
        captioner.Subcommands.Add(Eval());
        return captioner;
    }

    static Command Train()
    {
        var vision = new Option<string>("--vision") { Description = "A trained ViT checkpoint (lathe vision vit train --out DIR): the encoder.", Required = true };
        var output = new Option<string>("--out") { Description = "Run folder (metrics.jsonl, checkpoint/).", Required = true };
        var adapter = new Option<string>("--adapter") { Description = "linear | mlp | resampler.", DefaultValueFactory = _ => "mlp" };
        var queries = new Option<int>("--queries") { Description = "Resampler: learned queries (image tokens the decoder sees).", DefaultValueFactory = _ => 16 };
        var adapterHeads = new Option<int>("--adapter-heads") { Description = "Resampler: attention heads.", DefaultValueFactory = _ => 4 };
        var tuneVision = new Option<bool>("--tune-vision") { Description = "Train the encoder too (default: frozen)." };
        var decoder = new Option<string>("--decoder") { Description = "Language model: gpt2 | llama.", DefaultValueFactory = _ => "gpt2" };
        var width = new Option<int>("--width") { Description = "Decoder width.", DefaultValueFactory = _ => 128 };
        var layers = new Option<int>("--layers") { Description = "Decoder layers.", DefaultValueFactory = _ => 2 };
        var heads = new Option<int>("--heads") { Description = "Decoder attention heads.", DefaultValueFactory = _ => 4 };
        var template = new Option<string>("--template") { Description = "Training captions: full (every attribute named) | mixed (the training templates).", DefaultValueFactory = _ => "full" };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 1000 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 32 };
        var lr = new Option<float>("--lr") { DefaultValueFactory = _ => 1e-3f };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 50 };
        var weightDecay = new Option<float>("--weight-decay") { DefaultValueFactory = _ => 0.01f };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1UL };
        var trainLimit = new Option<int>("--train-limit") { Description = "Use the first N training images (0 = all 60,000).", DefaultValueFactory = _ => 0 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 0 };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("train", "Train a captioner: a trained ViT's encoder (frozen unless --tune-vision), an adapter, and a small decoder.")
        {
            vision, output, adapter, queries, adapterHeads, tuneVision, decoder, width, layers, heads, template, steps, batch, lr, warmup,
            weightDecay, seed, trainLimit, checkpointEvery, resume, threads,
        };
        command.SetAction(r =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException($"captioner: --threads {r.GetValue(threads)} must be positive");
            if (r.GetValue(template) is not ("full" or "mixed")) throw new UserInputException($"captioner: --template '{r.GetValue(template)}' is not one of full, mixed");
            if (r.GetValue(decoder) is not ("gpt2" or "llama")) throw new UserInputException($"captioner: --decoder '{r.GetValue(decoder)}' is not one of gpt2, llama");
            if (r.GetValue(trainLimit) < 0) throw new UserInputException($"captioner: --train-limit {r.GetValue(trainLimit)} must not be negative");
            if (Array.IndexOf(VisionAdapterConfig.Kinds, r.GetValue(adapter)) < 0)
                throw new UserInputException($"captioner: --adapter '{r.GetValue(adapter)}' is not one of {string.Join(", ", VisionAdapterConfig.Kinds)}");
            var options = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), WarmupSteps = r.GetValue(warmup),
                WeightDecay = r.GetValue(weightDecay), Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(checkpointEvery),
            }.Validate();
            string visionDir = r.GetValue(vision)!, outDir = r.GetValue(output)!;
            if (!Directory.Exists(visionDir)) throw new UserInputException($"captioner: --vision {visionDir}: no such folder");
            ComputePool.SetSharedThreads(r.GetValue(threads));

            using var vit = VisionCheckpoint.Load<VitModel>(visionDir, "a ViT (--vision)");
            var train = FashionMnist.Train();
            if (r.GetValue(trainLimit) > 0) train = train.Take(r.GetValue(trainLimit));
            var entries = CaptionSet.Build(train, CaptionSplit.Train).Entries;
            var captions = entries.Select(e => r.GetValue(template) == "full" ? CaptionSet.Render(CaptionSet.FullTemplate, e.Label, e.Attributes) : e.Caption).ToArray();
            var tokenizer = CaptionTokenizer.Train(captions);
            int longest = CaptionTokenizer.MaxLength(tokenizer, captions) + 1;   // + the leading end-of-text
            var vc = vit.Config with { Labels = 0 };
            var ac = new VisionAdapterConfig { Kind = r.GetValue(adapter)!, InputDim = vc.Width, OutputDim = r.GetValue(width), Queries = r.GetValue(queries), Heads = r.GetValue(adapterHeads) };
            int imageTokens = ac.Kind == "resampler" ? ac.Queries : vc.Tokens;
            var text = TextConfig(r.GetValue(decoder)!, tokenizer.VocabSize, imageTokens + longest + 16, r.GetValue(width), r.GetValue(layers), r.GetValue(heads));
            CaptionerConfig config;
            try { config = new CaptionerConfig(vc, ac, text, r.GetValue(tuneVision), tokenizer.EndOfTextId).Validate(); }
            catch (ArgumentException e) { throw new UserInputException("captioner: " + e.Message); }

            using var model = new CaptionerModel(config, r.GetValue(seed));
            model.LoadVision(vit);
            using var run = new CaptionerTraining(model, tokenizer, train, captions, options, outDir);
            if (r.GetValue(resume) && run.Resume()) Console.Error.WriteLine($"captioner: resumed at step {run.Trainer.Step}");
            Console.Error.WriteLine($"captioner: {model.Parameters.Sum(p => p.Value.Length):N0} parameters ({model.Trainable.Sum(p => p.Value.Length):N0} trained), " +
                $"{train.Count} images, {imageTokens} image tokens + up to {longest} caption tokens, vocabulary {tokenizer.VocabSize}");
            var watch = Stopwatch.StartNew();
            float first = float.NaN, last = 0;
            int startStep = run.Trainer.Step;
            while (run.Trainer.Step < options.Steps)
            {
                last = run.Step();
                if (float.IsNaN(first)) first = last;
                int s = run.Trainer.Step;
                if (s % 50 == 0 || s == options.Steps)
                    Console.Error.WriteLine($"step {s}/{options.Steps}  loss {last:F4}  lr {run.Trainer.LastLearningRate:G3}  {(s - startStep) * options.BatchSize / watch.Elapsed.TotalSeconds:F1} images/s");
                run.SaveIfDue();
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                steps = run.Trainer.Step, first_loss = first, final_loss = last, seconds = Math.Round(watch.Elapsed.TotalSeconds, 1),
                checkpoint = Path.Combine(outDir, Formats.Checkpoint.Folder),
            }));
            return 0;
        });
        return command;
    }

    static ModelConfig TextConfig(string type, int vocab, int context, int width, int layers, int heads)
    {
        if (width <= 0 || layers <= 0 || heads <= 0 || width % heads != 0)
            throw new UserInputException($"captioner: --width {width}, --layers {layers}, --heads {heads} must be positive, the width a multiple of the heads");
        return type == "gpt2"
            ? new ModelConfig { ModelType = "gpt2", VocabSize = vocab, MaxPositions = context, Embd = width, Layers = layers, Heads = heads, KvHeads = heads, Intermediate = 4 * width }
            : new ModelConfig { ModelType = "llama", VocabSize = vocab, MaxPositions = context, Embd = width, Layers = layers, Heads = heads, KvHeads = heads, Intermediate = 8 * width / 3, NormEps = 1e-5f, TieEmbeddings = false };
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "A captioner run or checkpoint folder.", Required = true };
        var limit = new Option<int>("--limit") { Description = "Test images to caption (the first N of the 10,000).", DefaultValueFactory = _ => 10000 };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 100 };
        var maxTokens = new Option<int>("--max-tokens") { DefaultValueFactory = _ => 32 };
        var json = new Option<bool>("--json") { Description = "One JSON line with the scores." };
        var threads = new Option<int>("--threads") { DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("eval", "Greedy captions of held-out test images: BLEU-4 and exact-attribute accuracy.") { model, limit, batch, maxTokens, json, threads };
        command.SetAction(r =>
        {
            if (r.GetValue(limit) <= 0) throw new UserInputException($"captioner: --limit {r.GetValue(limit)} must be positive");
            if (r.GetValue(batch) <= 0) throw new UserInputException($"captioner: --batch-size {r.GetValue(batch)} must be positive");
            if (r.GetValue(maxTokens) <= 0) throw new UserInputException($"captioner: --max-tokens {r.GetValue(maxTokens)} must be positive");
            if (r.GetValue(threads) <= 0) throw new UserInputException($"captioner: --threads {r.GetValue(threads)} must be positive");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var captioner = Captioner.Open(r.GetValue(model)!);
            var test = FashionMnist.Test();
            var captions = CaptionSet.Build(test, CaptionSplit.Test);
            var examples = new List<(string Reference, string Generated)>();
            var watch = Stopwatch.StartNew();
            var s = captioner.Evaluate(test, captions, r.GetValue(limit), r.GetValue(batch), r.GetValue(maxTokens), examples);
            double seconds = watch.Elapsed.TotalSeconds;
            if (!r.GetValue(json))
            {
                foreach (var (reference, generated) in examples) Console.WriteLine($"  reference: {reference}\n  generated: {generated}\n");
                Console.WriteLine($"{s.Count} test images: BLEU-4 {s.Bleu4:F4} (vs the full-attribute wording {s.Bleu4Full:F4}), exact-attribute accuracy {s.ExactAttributeAccuracy:P1}");
                Console.WriteLine($"class {s.ClassAccuracy:P1}, brightness {s.BrightnessAccuracy:P1}, size {s.SizeAccuracy:P1}, shape {s.ShapeAccuracy:P1}, texture {s.TextureAccuracy:P1}, all five right {s.AllCorrect:P1}");
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                images = s.Count, bleu4 = Math.Round(s.Bleu4, 4), bleu4_full = Math.Round(s.Bleu4Full, 4),
                exact_attribute_accuracy = Math.Round(s.ExactAttributeAccuracy, 4), class_accuracy = Math.Round(s.ClassAccuracy, 4),
                brightness_accuracy = Math.Round(s.BrightnessAccuracy, 4), size_accuracy = Math.Round(s.SizeAccuracy, 4),
                shape_accuracy = Math.Round(s.ShapeAccuracy, 4), texture_accuracy = Math.Round(s.TextureAccuracy, 4),
                all_correct = Math.Round(s.AllCorrect, 4), seconds = Math.Round(seconds, 1),
            }));
            return 0;
        });
        return command;
    }

    /// <summary>`lathe generate --image FILE --model CAPTIONER_DIR`: prints the image's caption. Without --temperature the
    /// caption is greedy.</summary>
    public static int Generate(string modelDir, string? imagePath, SamplingOptions options, bool temperatureGiven, int maxTokens, bool json)
    {
        if (imagePath is null) throw new UserInputException($"generate: --model {modelDir} is a captioner; give --image FILE.png");
        if (!File.Exists(imagePath)) throw new UserInputException($"generate: --image {imagePath}: not found");
        if (!Captioner.IsCaptioner(modelDir)) throw new UserInputException($"generate: --image needs a captioner (--model holds no vit-captioner checkpoint: {modelDir})");
        using var captioner = Captioner.Open(modelDir);
        var vc = captioner.Model.Config.Vision;
        using var image = ImageFile.Require(imagePath, vc.Channels, vc.ImageSize, vc.ImageSize, "--image");
        if (!temperatureGiven) options = options with { Temperature = 0 };
        var watch = Stopwatch.StartNew();
        string caption = captioner.Caption(image, maxTokens, options)[0];
        if (json) Console.WriteLine(JsonSerializer.Serialize(new { text = caption, image = imagePath }));
        else Console.WriteLine(caption);
        Console.Error.WriteLine($"generate: caption in {watch.Elapsed.TotalSeconds:F2} s");
        return 0;
    }
}
