using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision gan train|sample`: a class-conditional DCGAN on Fashion-MNIST, and PNG grids of its samples
/// (one row per class).</summary>
internal static class VisionGan
{
    public static Command Create()
    {
        var gan = new Command("gan", "Class-conditional DCGAN on Fashion-MNIST: train, and sample a PNG grid (one row per class).");
        gan.Subcommands.Add(Train());
        gan.Subcommands.Add(Sample());
        return gan;
    }

    static Command Train()
    {
        var output = new Option<string>("--out") { Description = "Run folder (checkpoint/, generator/ and discriminator/ metrics).", Required = true };
        var data = new Option<string?>("--data") { Description = "Folder of the Fashion-MNIST IDX files (default: Debian's /usr/share/datasets/fashion-mnist or $LATHE_FASHION_MNIST)." };
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 3000, Description = "Updates of each player." };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 64, Description = "Images per update." };
        var lr = new Option<float>("--lr") { DefaultValueFactory = _ => 2e-4f, Description = "Adam learning rate of both players (DCGAN: 2e-4, constant)." };
        var beta1 = new Option<float>("--beta1") { DefaultValueFactory = _ => 0.5f, Description = "Adam β1 (DCGAN: 0.5)." };
        var latent = new Option<int>("--latent") { DefaultValueFactory = _ => 64, Description = "Size of z." };
        var features = new Option<int>("--features") { DefaultValueFactory = _ => 64, Description = "Width of both players (ngf = ndf)." };
        var trainImages = new Option<int>("--train-images") { DefaultValueFactory = _ => 0, Description = "Use the first N training images (0: all 60,000)." };
        var samples = new Option<string?>("--samples") { Description = "Write a PNG grid of samples (one row per class) here at the end." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 500, Description = "Steps between checkpoints (0: only at the end)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1UL, Description = "Seed of the weights, the data order, z and the fake labels." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("train", "Train a class-conditional DCGAN (non-saturating loss, Adam β1 0.5) on Fashion-MNIST; prints both losses, then a JSON summary.")
            { output, data, steps, batch, lr, beta1, latent, features, trainImages, samples, checkpointEvery, seed, resume, threads };
        command.SetAction(r =>
        {
            int t = r.GetValue(threads), nTrain = r.GetValue(trainImages), width = r.GetValue(features);
            if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
            if (nTrain < 0) throw new UserInputException($"--train-images: {nTrain} must not be negative");
            float b1 = r.GetValue(beta1);
            if (!(b1 >= 0 && b1 < 1)) throw new UserInputException($"--beta1: {b1} must be in [0, 1)");
            if (r.GetValue(latent) <= 0) throw new UserInputException($"--latent: {r.GetValue(latent)} must be positive");
            if (width <= 0 || width % 8 != 0) throw new UserInputException($"--features: {width} must be a positive multiple of 8 (the GroupNorm groups)");
            var options = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), Beta1 = b1, Beta2 = 0.999f,
                WarmupSteps = 0, MinLrFraction = 1f, WeightDecay = 0f, ClipNorm = 0f, Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(checkpointEvery),
            }.Validate();
            string dir = r.GetValue(output)!, samplesPath = r.GetValue(samples) ?? "";
            ComputePool.SetSharedThreads(t);
            var train = FashionMnist.Train(r.GetValue(data));
            if (nTrain > 0) train = train.Take(nTrain);

            var config = new DcganConfig { Latent = r.GetValue(latent), GeneratorFeatures = width, DiscriminatorFeatures = width, Classes = train.ClassNames.Count };
            using var model = r.GetValue(resume) ? LoadForResume(dir) : new DcganModel(config, options.Seed);
            using var run = new GanTrainingRun(model, train, options, dir);
            if (r.GetValue(resume) && !run.Resume()) throw new UserInputException($"--resume: {dir} has no checkpoint to resume from");
            Console.Error.WriteLine($"dcgan: z {model.Config.Latent}, width {model.Config.GeneratorFeatures}, G {Count(model.GeneratorParameters):N0} + D {Count(model.DiscriminatorParameters):N0} parameters; " +
                $"{train.Count} training images, batch {options.BatchSize}, {t} threads{(run.Generator.Step > 0 ? $", resuming at step {run.Generator.Step}" : "")}");
            using var console = new TrainingConsole();
            var clock = Stopwatch.StartNew();
            int start = run.Generator.Step;
            while (run.Generator.Step < options.Steps && !console.Token.IsCancellationRequested)
            {
                var (d, g) = run.Step();
                int step = run.Generator.Step;
                if (step % 50 == 0 || step == options.Steps)
                    Console.Error.WriteLine($"step {step}/{options.Steps}  D {d:F4}  G {g:F4}  {(step - start) * (double)options.BatchSize / clock.Elapsed.TotalSeconds:F0} img/s");
                if (run.Generator.CheckpointDue) run.Save();
            }
            if (run.Generator.Step < options.Steps) { run.Save(); Console.Error.WriteLine($"stopped at step {run.Generator.Step}; checkpoint written, continue with --resume"); }
            if (samplesPath.Length > 0) WriteClassGrid(model, samplesPath, 8, options.Seed);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = "dcgan", steps = run.Generator.Step, train_images = train.Count, discriminator_loss = run.LastDiscriminatorLoss,
                generator_loss = run.LastGeneratorLoss, seconds = Math.Round(clock.Elapsed.TotalSeconds, 1), checkpoint = Path.Combine(dir, Checkpoint.Folder),
                samples = samplesPath.Length > 0 ? samplesPath : null,
            }));
            return 0;
        });
        return command;
    }

    static long Count(IReadOnlyList<Lathe.Models.ModelParameter> ps) => ps.Sum(p => (long)p.Value.Length);

    static DcganModel LoadForResume(string dir)
    {
        if (VisionCheckpoint.ModelTypeOf(dir) is null) throw new UserInputException($"--resume: {dir} has no checkpoint to resume from");
        return VisionCheckpoint.Load<DcganModel>(dir, "a DCGAN");
    }

    static Command Sample()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint or run folder of a DCGAN.", Required = true };
        var output = new Option<string>("--out") { Description = "PNG file for the grid.", Required = true };
        var perClass = new Option<int>("--per-class") { DefaultValueFactory = _ => 8, Description = "Samples of each class (one row per class)." };
        var labels = new Option<string?>("--labels") { Description = "Comma-separated class ids to draw instead (e.g. 7,7,9)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1UL, Description = "Seed of z." };
        var command = new Command("sample", "Draw class-conditioned images from a DCGAN into a PNG grid.") { model, output, perClass, labels, seed };
        command.SetAction(r =>
        {
            int n = r.GetValue(perClass);
            if (n <= 0) throw new UserInputException($"--per-class: {n} must be positive");
            string path = r.GetValue(output)!;
            using var gan = VisionCheckpoint.Load<DcganModel>(r.GetValue(model)!, "a DCGAN");
            if (r.GetValue(labels) is { } list)
            {
                var ids = ParseLabels(list, gan.Config.Classes);
                var c = gan.Config;
                VisionFlow.WriteGrid(path, gan.Sample(ids, r.GetValue(seed)), ids.Length, c.Channels, c.ImageSize, 0);
                Console.WriteLine($"{ids.Length} samples (labels {list}) → {path}");
            }
            else
            {
                WriteClassGrid(gan, path, n, r.GetValue(seed));
                Console.WriteLine($"{gan.Config.Classes}×{n} samples (one row per class) → {path}");
            }
            return 0;
        });
        return command;
    }

    static int[] ParseLabels(string list, int classes)
    {
        var parts = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new UserInputException("--labels: no class ids given");
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out ids[i]) || ids[i] < 0 || ids[i] >= classes)
                throw new UserInputException($"--labels: '{parts[i]}' is not a class id in [0, {classes})");
        return ids;
    }

    /// <summary>A grid with one row per class, <paramref name="perClass"/> samples each.</summary>
    static void WriteClassGrid(DcganModel gan, string path, int perClass, ulong seed)
    {
        var c = gan.Config;
        var ids = new int[c.Classes * perClass];
        for (int i = 0; i < ids.Length; i++) ids[i] = i / perClass;
        VisionFlow.WriteGrid(path, gan.Sample(ids, seed), ids.Length, c.Channels, c.ImageSize, perClass);
    }
}
