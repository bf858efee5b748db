using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Images;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision flow train|eval|sample`: a RealNVP normalising flow on Fashion-MNIST — exact log-likelihood,
/// reported as test bits per dimension, and samples as a PNG grid.</summary>
internal static class VisionFlow
{
    public static Command Create()
    {
        var flow = new Command("flow", "RealNVP normalising flow: exact likelihood in bits/dim on Fashion-MNIST, samples as PNG.");
        flow.Subcommands.Add(Train());
        flow.Subcommands.Add(Eval());
        flow.Subcommands.Add(Sample());
        return flow;
    }

    static Option<string?> DataOption() => new("--data") { Description = "Folder of the Fashion-MNIST IDX files (default: Debian's /usr/share/datasets/fashion-mnist or $LATHE_FASHION_MNIST)." };
    static Option<int> ThreadsOption() => new("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

    static Command Train()
    {
        var output = new Option<string>("--out") { Description = "Run folder (checkpoint/, metrics.jsonl).", Required = true };
        var data = DataOption();
        var steps = new Option<int>("--steps") { DefaultValueFactory = _ => 3000, Description = "Updates." };
        var batch = new Option<int>("--batch-size") { DefaultValueFactory = _ => 64, Description = "Images per update." };
        var lr = new Option<float>("--lr") { DefaultValueFactory = _ => 1e-3f, Description = "Peak learning rate (AdamW, warm-up + cosine)." };
        var couplings = new Option<int>("--couplings") { DefaultValueFactory = _ => 8, Description = "Affine coupling layers." };
        var hidden = new Option<int>("--hidden") { DefaultValueFactory = _ => 512, Description = "Width of each coupling's MLP." };
        var trainImages = new Option<int>("--train-images") { DefaultValueFactory = _ => 0, Description = "Use the first N training images (0: all 60,000)." };
        var evalImages = new Option<int>("--eval-images") { DefaultValueFactory = _ => 2000, Description = "Test images for the bits/dim printed during and after training (0: all 10,000)." };
        var evalEvery = new Option<int>("--eval-every") { DefaultValueFactory = _ => 500, Description = "Steps between held-out evaluations (0: only at the end)." };
        var checkpointEvery = new Option<int>("--checkpoint-every") { DefaultValueFactory = _ => 500, Description = "Steps between checkpoints (0: only at the end)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1UL, Description = "Seed of the weights, the data order and the dequantisation noise." };
        var resume = new Option<bool>("--resume") { Description = "Continue the run in --out from its checkpoint." };
        var threads = ThreadsOption();
        var command = new Command("train", "Train a RealNVP flow on Fashion-MNIST by maximum likelihood; prints test bits/dim, then a JSON summary.")
            { output, data, steps, batch, lr, couplings, hidden, trainImages, evalImages, evalEvery, checkpointEvery, seed, resume, threads };
        command.SetAction(r =>
        {
            int t = r.GetValue(threads);
            if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
            int nTrain = r.GetValue(trainImages), nEval = r.GetValue(evalImages), every = r.GetValue(evalEvery);
            if (nTrain < 0 || nEval < 0 || every < 0) throw new UserInputException("--train-images, --eval-images and --eval-every must not be negative");
            var options = new VisionTrainingOptions
            {
                Steps = r.GetValue(steps), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), WarmupSteps = Math.Min(100, r.GetValue(steps) / 10),
                WeightDecay = 0f, ClipNorm = 100f, Seed = r.GetValue(seed), CheckpointEvery = r.GetValue(checkpointEvery),
            }.Validate();
            var config = new RealNvpConfig { Couplings = r.GetValue(couplings), Hidden = r.GetValue(hidden) };
            try { config.Validate(); } catch (InvalidDataException e) { throw new UserInputException(e.Message.Replace("realnvp config: num_couplings", "--couplings").Replace("hidden_size", "--hidden")); }
            string dir = r.GetValue(output)!;
            ComputePool.SetSharedThreads(t);
            var train = FashionMnist.Train(r.GetValue(data));
            if (nTrain > 0) train = train.Take(nTrain);
            var test = FashionMnist.Test(r.GetValue(data));

            using var model = r.GetValue(resume) ? LoadForResume(dir) : new RealNvpModel(config, options.Seed);
            using var run = new FlowTrainingRun(model, train, options, dir);
            if (r.GetValue(resume) && !run.Resume()) throw new UserInputException($"--resume: {dir} has no checkpoint to resume from");
            Console.Error.WriteLine($"realnvp: {model.Config.Couplings} couplings, hidden {model.Config.Hidden}, {model.Parameters.Sum(p => (long)p.Value.Length):N0} parameters; " +
                $"{train.Count} training images, batch {options.BatchSize}, {t} threads{(run.Trainer.Step > 0 ? $", resuming at step {run.Trainer.Step}" : "")}");
            using var console = new TrainingConsole();
            var clock = Stopwatch.StartNew();
            int startStep = run.Trainer.Step;
            double? last = null;
            while (run.Trainer.Step < options.Steps && !console.Token.IsCancellationRequested)
            {
                float loss = run.Step();
                int step = run.Trainer.Step;
                if ((every > 0 && step % every == 0) || step == options.Steps)
                {
                    last = FlowObjective.Evaluate(model, test, nEval);
                    run.Trainer.SetValidation(last.Value);
                }
                if (step % 50 == 0 || step == options.Steps || last is not null && step % Math.Max(every, 1) == 0)
                {
                    double rate = (step - startStep) * (double)options.BatchSize / clock.Elapsed.TotalSeconds;
                    Console.Error.WriteLine($"step {step}/{options.Steps}  train {loss:F4} bits/dim{(last is { } v ? $"  test {v:F4}" : "")}  {rate:F0} img/s");
                }
                if (run.Trainer.CheckpointDue) run.Save();
            }
            if (run.Trainer.Step < options.Steps) { run.Save(); Console.Error.WriteLine($"stopped at step {run.Trainer.Step}; checkpoint written, continue with --resume"); }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = "realnvp", steps = run.Trainer.Step, train_images = train.Count, test_images = nEval == 0 ? test.Count : Math.Min(nEval, test.Count),
                test_bits_per_dim = last, seconds = Math.Round(clock.Elapsed.TotalSeconds, 1), checkpoint = Path.Combine(dir, Checkpoint.Folder),
            }));
            return 0;
        });
        return command;
    }

    static RealNvpModel LoadForResume(string dir)
    {
        if (VisionCheckpoint.ModelTypeOf(dir) is null) throw new UserInputException($"--resume: {dir} has no checkpoint to resume from");
        return VisionCheckpoint.Load<RealNvpModel>(dir, "a RealNVP flow");
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint or run folder of a RealNVP flow.", Required = true };
        var data = DataOption();
        var images = new Option<int>("--images") { DefaultValueFactory = _ => 0, Description = "Evaluate the first N test images (0: all 10,000)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 7UL, Description = "Seed of the dequantisation noise." };
        var threads = ThreadsOption();
        var command = new Command("eval", "Test-set bits per dimension of a RealNVP flow (exact log-likelihood, uniform dequantisation); one JSON line.")
            { model, data, images, seed, threads };
        command.SetAction(r =>
        {
            int t = r.GetValue(threads), n = r.GetValue(images);
            if (t <= 0) throw new UserInputException($"--threads: {t} must be positive");
            if (n < 0) throw new UserInputException($"--images: {n} must not be negative");
            ComputePool.SetSharedThreads(t);
            using var flow = VisionCheckpoint.Load<RealNvpModel>(r.GetValue(model)!, "a RealNVP flow");
            var test = FashionMnist.Test(r.GetValue(data));
            var clock = Stopwatch.StartNew();
            double bpd = FlowObjective.Evaluate(flow, test, n, seed: r.GetValue(seed));
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = "realnvp", test_images = n == 0 ? test.Count : Math.Min(n, test.Count), test_bits_per_dim = Math.Round(bpd, 4),
                seconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            }));
            return 0;
        });
        return command;
    }

    static Command Sample()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint or run folder of a RealNVP flow.", Required = true };
        var output = new Option<string>("--out") { Description = "PNG file for the grid of samples.", Required = true };
        var count = new Option<int>("--count") { DefaultValueFactory = _ => 64, Description = "Images to draw." };
        var temperature = new Option<float>("--temperature") { DefaultValueFactory = _ => 0.7f, Description = "Standard deviation of z (Dinh et al. and Glow show reduced-temperature samples)." };
        var seed = new Option<ulong>("--seed") { DefaultValueFactory = _ => 1UL, Description = "Seed of z." };
        var columns = new Option<int>("--columns") { DefaultValueFactory = _ => 0, Description = "Grid columns (0: square)." };
        var command = new Command("sample", "Draw images from a RealNVP flow (z ~ N(0, T²), inverted) into a PNG grid.")
            { model, output, count, temperature, seed, columns };
        command.SetAction(r =>
        {
            int n = r.GetValue(count), cols = r.GetValue(columns);
            float temp = r.GetValue(temperature);
            if (n <= 0) throw new UserInputException($"--count: {n} must be positive");
            if (!(temp > 0) || float.IsInfinity(temp)) throw new UserInputException($"--temperature: {temp} must be a positive number");
            if (cols < 0) throw new UserInputException($"--columns: {cols} must not be negative");
            string path = r.GetValue(output)!;
            using var flow = VisionCheckpoint.Load<RealNvpModel>(r.GetValue(model)!, "a RealNVP flow");
            var c = flow.Config;
            var bytes = flow.Sample(n, r.GetValue(seed), temp);
            WriteGrid(path, bytes, n, c.Channels, c.ImageSize, cols);
            Console.WriteLine($"{n} samples (temperature {temp}) → {path}");
            return 0;
        });
        return command;
    }

    /// <summary>Writes <paramref name="count"/> byte images (C, side, side each) as a PNG grid.</summary>
    internal static void WriteGrid(string path, byte[] bytes, int count, int channels, int side, int columns)
    {
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder)) throw new UserInputException($"--out: folder {folder} does not exist");
        using var images = Tensor.Empty(count, channels, side, side);
        var dst = images.AsSpan();
        for (int i = 0; i < bytes.Length; i++) dst[i] = bytes[i] / 255f;
        SampleGrid.Write(path, images, 0f, 1f, columns, scale: 2);
    }
}
