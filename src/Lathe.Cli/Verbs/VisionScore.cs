using System.CommandLine;
using System.Diagnostics;
using Lathe.Tensors;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Images;
using Lathe.Vision.Metrics;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision score --classifier VIT_DIR --model GEN_DIR`: a generator's samples judged by our ViT classifier —
/// Fréchet distance on its pooled features against real test images (with the real-vs-real baseline) and, for
/// class-conditional generators, how often it recognises the requested class.</summary>
internal static class VisionScore
{
    public static Command Create()
    {
        var classifier = new Option<string>("--classifier") { Description = "Checkpoint or run folder of a trained ViT classifier (lathe vision vit train).", Required = true };
        var model = new Option<string>("--model") { Description = "Checkpoint or run folder of a generator: " + string.Join(", ", GeneratorAdapters.Types) + ".", Required = true };
        var count = new Option<int>("--count") { Description = "Generated images N, compared with N real test images (and the baseline with N more); at most half the test set.", DefaultValueFactory = _ => 2000 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the samples and of the choice of real test images.", DefaultValueFactory = _ => 1UL };
        var temperature = new Option<float>("--temperature") { Description = "RealNVP: standard deviation of z (1: the model's own density).", DefaultValueFactory = _ => 1f };
        var samplingSteps = new Option<int>("--sampling-steps") { Description = "DiT: DDIM steps.", DefaultValueFactory = _ => 50 };
        var guidance = new Option<float>("--guidance") { Description = "DiT: classifier-free guidance scale (1: the conditional model alone).", DefaultValueFactory = _ => 3f };
        var data = new Option<string?>("--data") { Description = "Folder of the Fashion-MNIST IDX files (default: Debian's)." };
        var grid = new Option<string?>("--grid") { Description = "Also write the first 100 samples as a PNG grid (class-conditional: one class per column)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var json = new Option<bool>("--json") { Description = "Print one JSON object only." };
        var command = new Command("score", "Score a generator with a ViT classifier: Fréchet distance on the classifier's features (not Inception FID) " +
            "vs real test images, the real-vs-real baseline, and accuracy on class-conditioned samples.")
            { classifier, model, count, seed, temperature, samplingSteps, guidance, data, grid, threads, json };
        command.SetAction(r =>
        {
            string vitDir = r.GetValue(classifier)!, genDir = r.GetValue(model)!;
            int n = r.GetValue(count), t = r.GetValue(threads);
            float temp = r.GetValue(temperature);
            if (n < 2) throw new UserInputException($"vision score: --count {n} must be at least 2");
            if (t <= 0) throw new UserInputException($"vision score: --threads {t} must be positive");
            if (!(temp > 0)) throw new UserInputException($"vision score: --temperature {temp} must be positive");
            if (!Directory.Exists(vitDir)) throw new DirectoryNotFoundException($"vision score: --classifier {vitDir}: no such folder");
            if (!Directory.Exists(genDir)) throw new DirectoryNotFoundException($"vision score: --model {genDir}: no such folder");
            ComputePool.SetSharedThreads(t);
            using var vit = VisionCheckpoint.Load<VitModel>(vitDir, "a ViT classifier");
            if (vit.Config.Labels == 0) throw new UserInputException($"vision score: --classifier {vitDir} is an encoder only (num_labels 0)");
            var diffusion = new DiffusionSamplingOptions { SamplingSteps = r.GetValue(samplingSteps), Guidance = r.GetValue(guidance) };
            if (diffusion.SamplingSteps < 1) throw new UserInputException($"vision score: --sampling-steps {diffusion.SamplingSteps} must be positive");
            if (!float.IsFinite(diffusion.Guidance) || diffusion.Guidance < 0) throw new UserInputException($"vision score: --guidance {diffusion.Guidance} must be a number ≥ 0");
            using var generator = GeneratorAdapters.Load(genDir, new GeneratorSamplingOptions { Temperature = temp, Diffusion = diffusion });
            var test = FashionMnist.Test(r.GetValue(data));
            if (2 * n > test.Count) throw new UserInputException($"vision score: --count {n} needs 2×{n} real test images; the test set has {test.Count}");
            if (generator.ImageShape != (vit.Config.Channels, vit.Config.ImageSize, vit.Config.ImageSize))
                throw new UserInputException($"vision score: --model {genDir} draws {generator.ImageShape} images, the classifier takes ({vit.Config.Channels}, {vit.Config.ImageSize}, {vit.Config.ImageSize})");
            if (generator.ClassConditional && generator.Classes > vit.Config.Labels)
                throw new UserInputException($"vision score: --model {genDir} has {generator.Classes} classes, the classifier {vit.Config.Labels}");

            var clock = Stopwatch.StartNew();
            var labels = GeneratorScore.RequestedLabels(generator, n);
            using var samples = generator.Sample(n, labels, r.GetValue(seed));
            double sampleSeconds = clock.Elapsed.TotalSeconds;
            if (r.GetValue(grid) is { } png)
                SampleGrid.Write(png, Ops.Narrow(samples, 0, 0, Math.Min(100, n)), columns: generator.ClassConditional ? generator.Classes : 10);
            var s = GeneratorScore.Evaluate(vit, test, samples, labels, r.GetValue(seed));
            if (!r.GetValue(json))
            {
                Console.WriteLine($"{generator.ModelType} ({genDir}), {n:N0} samples vs {n:N0} real test images, on the classifier's {s.FeatureDimension}-dim pooled features (not Inception FID):");
                Console.WriteLine($"  Fréchet distance d²      {s.FrechetDistance,10:F3}");
                Console.WriteLine($"  real-vs-real baseline d² {s.RealBaseline,10:F3}   (two disjoint sets of {n:N0} test images)");
                if (s.ConditionalAccuracy is { } acc)
                {
                    Console.WriteLine($"  accuracy on class-conditioned samples {acc:P2}   (classifier on real test images: {s.ClassifierAccuracy:P2})");
                    for (int k = 0; k < generator.Classes; k++)
                        Console.WriteLine($"    {(k < test.ClassNames.Count ? test.ClassNames[k] : k.ToString()),-12} {s.PerClassConditionalAccuracy![k],8:P2}");
                }
                else Console.WriteLine($"  unconditional generator: no class accuracy (classifier on real test images: {s.ClassifierAccuracy:P2})");
            }
            BenchSupport.PrintJson(("model", genDir), ("model_type", generator.ModelType), ("classifier", vitDir), ("count", n), ("seed", (long)r.GetValue(seed)),
                ("features", "vit pooled, dim " + s.FeatureDimension + " (not Inception FID)"),
                ("frechet_distance", s.FrechetDistance), ("real_baseline", s.RealBaseline),
                ("conditional_accuracy", s.ConditionalAccuracy), ("classifier_accuracy", s.ClassifierAccuracy),
                ("per_class_conditional_accuracy", n >= generator.Classes ? s.PerClassConditionalAccuracy : null),
                ("sample_seconds", Math.Round(sampleSeconds, 1)), ("seconds", Math.Round(clock.Elapsed.TotalSeconds, 1)));
            return 0;
        });
        return command;
    }
}
