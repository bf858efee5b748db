using System.CommandLine;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Diffusion;
using Lathe.Vision.Training;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe vision dit train`: a Diffusion Transformer in a trained VAE's latent space (class-conditional with
/// classifier-free guidance training, or unconditional). `lathe generate --model DIT_DIR --prompt "a sneaker"` samples it.</summary>
internal static class VisionDit
{
    public static Command Create()
    {
        var dit = new Command("dit", "Diffusion Transformer (adaLN-Zero, ε-prediction) on a VAE's latents; sample it with lathe generate --model DIR --prompt …");
        dit.Subcommands.Add(Train());
        return dit;
    }

    static Command Train()
    {
        var o = new VisionRunOptions(steps: 5000, batch: 64, lr: 3e-4f);
        var vae = new Option<string>("--vae") { Description = "The trained VAE (checkpoint or run folder).", Required = true };
        var schedule = new Option<string>("--schedule") { Description = "Noise schedule: linear (β 1e-4 → 0.02) or cosine (Nichol & Dhariwal).", DefaultValueFactory = _ => "linear" };
        var width = new Option<int>("--width") { Description = "hidden_size.", DefaultValueFactory = _ => 256 };
        var depth = new Option<int>("--depth") { Description = "DiT blocks.", DefaultValueFactory = _ => 6 };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => 4 };
        var unconditional = new Option<bool>("--unconditional") { Description = "No class conditioning (and no guidance)." };
        var command = new Command("train", "Train a DiT on the VAE's latents of Fashion-MNIST; writes OUT/checkpoint (with the VAE in checkpoint/vae) and OUT/metrics.jsonl.")
            { vae, schedule, width, depth, heads, unconditional };
        o.AddTo(command);
        command.SetAction(r =>
        {
            const string verb = "vision dit train";
            string vaePath = r.GetValue(vae)!;
            if (VisionCheckpoint.ModelTypeOf(vaePath) != VaeModel.Type)   // before the 60,000 images are read
                throw new UserInputException($"{verb}: --vae {vaePath} is not a VAE checkpoint (train one with lathe vision vae train)");
            var (options, train, outDir) = o.Read(r, verb);
            var config = new DitConfig
            {
                NoiseSchedule = r.GetValue(schedule)!, HiddenSize = r.GetValue(width), Depth = r.GetValue(depth), Heads = r.GetValue(heads),
                Classes = r.GetValue(unconditional) ? 0 : train.ClassNames.Count, ClassNames = r.GetValue(unconditional) ? [] : train.ClassNames.ToArray(),
            };
            try { config.Validate(); }
            catch (ArgumentException e) { throw new UserInputException($"{verb}: {e.Message} (--schedule, --width, --depth, --heads)"); }
            using var autoencoder = VisionCheckpoint.Load<VaeModel>(vaePath, "a VAE");
            using var console = new TrainingConsole();
            var started = DateTime.UtcNow;
            using var model = DitTraining.Run(config, options, autoencoder, train, outDir, (step, loss) =>
                VisionRunOptions.Progress(step, options.Steps, started, $"loss {loss:F4}"), console.Token);
            Console.Error.WriteLine($"{verb}: {model.Parameters.Sum(p => (long)p.Value.Length) / 1e6:F2}M parameters, {train.Count} images, " +
                $"{config.NoiseSchedule} schedule → {Path.Combine(outDir, "checkpoint")}");
            return 0;
        });
        return command;
    }
}
