using System.CommandLine;
using Lathe.Tensors.Threading;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision vae train|eval`: the convolutional VAE on Fashion-MNIST (the latent space of the DiT).</summary>
internal static class VisionVae
{
    public static Command Create()
    {
        var vae = new Command("vae", "Convolutional VAE (4×7×7 latents): train on Fashion-MNIST, or evaluate reconstruction MSE and KL on the test set.");
        vae.Subcommands.Add(Train());
        vae.Subcommands.Add(Eval());
        return vae;
    }

    static Command Train()
    {
        var o = new VisionRunOptions(steps: 3000, batch: 64, lr: 1e-3f);
        var beta = new Option<float>("--beta") { Description = "Weight of the KL term.", DefaultValueFactory = _ => 1f };
        var channels = new Option<int>("--channels") { Description = "Channels of the first stage (the inner stages have twice as many).", DefaultValueFactory = _ => 32 };
        var command = new Command("train", "Train the VAE; writes OUT/checkpoint (config.json with scaling_factor, model.safetensors) and OUT/metrics.jsonl.") { beta, channels };
        o.AddTo(command);
        command.SetAction(r =>
        {
            var (options, train, outDir) = o.Read(r, "vision vae train");
            var config = new VaeConfig { KlWeight = r.GetValue(beta), BaseChannels = r.GetValue(channels) };
            try { config.Validate(); }
            catch (ArgumentException e) { throw new UserInputException($"vision vae train: {e.Message} (--beta, --channels)"); }
            using var console = new TrainingConsole();
            var started = DateTime.UtcNow;
            using var model = VaeTraining.Run(config, options, train, outDir, (step, loss, rec, kl) =>
                VisionRunOptions.Progress(step, options.Steps, started, $"loss {loss:F2}  recon {rec:F2}  kl {kl:F2}"), console.Token);
            Console.Error.WriteLine($"vision vae train: {train.Count} images, scaling_factor {model.Config.ScalingFactor:G5} → {Path.Combine(outDir, "checkpoint")}");
            return 0;
        });
        return command;
    }

    static Command Eval()
    {
        var model = new Option<string>("--model") { Description = "VAE checkpoint or run folder.", Required = true };
        var images = new Option<int>("--test-images") { Description = "Test images to evaluate (0 = all 10,000).", DefaultValueFactory = _ => 0 };
        var data = new Option<string?>("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: Debian's)." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("eval", "Test-set reconstruction MSE per pixel (from the posterior mean), BCE and KL per image; one JSON line.") { model, images, data, threads };
        command.SetAction(r =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException("vision vae eval: --threads must be positive");
            if (r.GetValue(images) < 0) throw new UserInputException("vision vae eval: --test-images must not be negative");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var vae = VisionCheckpoint.Load<VaeModel>(r.GetValue(model)!, "a VAE");
            var test = FashionMnist.Test(r.GetValue(data));
            if (r.GetValue(images) > 0) test = test.Take(r.GetValue(images));
            var e = vae.Evaluate(test);
            BenchSupport.PrintJson(("model", "vae"), ("test_images", e.Images), ("reconstruction_mse", e.ReconstructionMse),
                ("reconstruction_bce", e.ReconstructionBce), ("kl", e.Kl), ("scaling_factor", vae.Config.ScalingFactor));
            return 0;
        });
        return command;
    }
}

/// <summary>The options every `lathe vision … train` of the generative models shares: --out, --steps, --batch-size,
/// --lr, --warmup, --seed, --threads, --train-images, --data, --checkpoint-every.</summary>
internal sealed class VisionRunOptions(int steps, int batch, float lr)
{
    readonly Option<string> _out = new("--out") { Description = "Run folder (checkpoint/, metrics.jsonl); an existing run resumes.", Required = true };
    readonly Option<int> _steps = new("--steps") { Description = "Training steps.", DefaultValueFactory = _ => steps };
    readonly Option<int> _batch = new("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => batch };
    readonly Option<float> _lr = new("--lr") { Description = "Peak learning rate (AdamW, warm-up then cosine).", DefaultValueFactory = _ => lr };
    readonly Option<int> _warmup = new("--warmup") { Description = "Warm-up steps.", DefaultValueFactory = _ => 100 };
    readonly Option<ulong> _seed = new("--seed") { Description = "Seed of the initialisation, data order and noise.", DefaultValueFactory = _ => 1UL };
    readonly Option<int> _threads = new("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
    readonly Option<int> _images = new("--train-images") { Description = "Use only the first N training images (0 = all 60,000).", DefaultValueFactory = _ => 0 };
    readonly Option<string?> _data = new("--data") { Description = "Folder with the Fashion-MNIST IDX files (default: Debian's)." };
    readonly Option<int> _every = new("--checkpoint-every") { Description = "Steps between checkpoints (0: only at the end).", DefaultValueFactory = _ => 500 };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _out, _steps, _batch, _lr, _warmup, _seed, _threads, _images, _data, _every }) command.Options.Add(option);
    }

    /// <summary>The trainer options, the training images and the run folder; bad values are one-line errors.</summary>
    public (VisionTrainingOptions Options, ImageSet Train, string Out) Read(ParseResult r, string verb)
    {
        if (r.GetValue(_threads) <= 0) throw new UserInputException($"{verb}: --threads must be positive");
        if (r.GetValue(_images) < 0) throw new UserInputException($"{verb}: --train-images must not be negative");
        VisionTrainingOptions options;
        try
        {
            options = new VisionTrainingOptions
            {
                Steps = r.GetValue(_steps), BatchSize = r.GetValue(_batch), LearningRate = r.GetValue(_lr),
                WarmupSteps = Math.Min(r.GetValue(_warmup), Math.Max(r.GetValue(_steps) - 1, 0)), Seed = r.GetValue(_seed),
                CheckpointEvery = r.GetValue(_every), WeightDecay = 0f,
            }.Validate();
        }
        catch (ArgumentException e) { throw new UserInputException($"{verb}: {e.Message}"); }
        ComputePool.SetSharedThreads(r.GetValue(_threads));
        var train = FashionMnist.Train(r.GetValue(_data));
        if (r.GetValue(_images) > 0) train = train.Take(r.GetValue(_images));
        return (options, train, r.GetValue(_out)!);
    }

    static long _lastPrint;

    /// <summary>A progress line on stderr every few seconds and at the last step.</summary>
    public static void Progress(int step, int total, DateTime started, string figures)
    {
        long now = Environment.TickCount64;
        if (step != total && now - _lastPrint < 5000) return;
        _lastPrint = now;
        double elapsed = (DateTime.UtcNow - started).TotalSeconds;
        Console.Error.WriteLine($"step {step}/{total}  {figures}  {step / Math.Max(elapsed, 1e-9):F2} steps/s");
    }
}
