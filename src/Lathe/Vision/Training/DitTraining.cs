using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Diffusion;

namespace Lathe.Vision.Training;

/// <summary>Trains a <see cref="DitModel"/> in a VAE's latent space: the training images are encoded once (posterior
/// means, times the VAE's scaling factor), then each step draws t, ε and the label dropout and minimises the
/// ε-prediction MSE (<see cref="DiffusionObjective"/>) with <see cref="VisionTrainer"/>. The VAE is saved into the run's
/// checkpoint/vae/ so the DiT folder generates on its own (<see cref="LatentDiffusion.Load"/>).</summary>
public static class DitTraining
{
    /// <summary>Runs (or resumes) the training; returns the DiT, caller-owned. <paramref name="report"/> hears (step, loss).</summary>
    public static DitModel Run(DitConfig config, VisionTrainingOptions options, VaeModel vae, ImageSet train, string? runDir,
        Action<int, float>? report = null, CancellationToken cancel = default)
    {
        if (train.Channels != vae.Config.InChannels || train.Height != vae.Config.ImageSize || train.Width != vae.Config.ImageSize)
            throw new ArgumentException($"DiT: the images are {train.Channels}×{train.Height}×{train.Width}, the VAE takes {vae.Config.InChannels}×{vae.Config.ImageSize}×{vae.Config.ImageSize}");
        config = config with
        {
            InChannels = vae.Config.LatentChannels,
            InputSize = vae.Config.LatentSize,
            LatentScale = vae.Config.ScalingFactor,
            ClassNames = config.Classes > 0 ? train.ClassNames.ToArray() : [],
        };
        if (config.Classes > 0 && config.Classes != train.ClassNames.Count)
            throw new ArgumentException($"DiT: num_classes {config.Classes} but the images have {train.ClassNames.Count} classes");
        var latents = vae.EncodeMeans(train);
        float scale = vae.Config.ScalingFactor;
        for (int i = 0; i < latents.Length; i++) latents[i] *= scale;

        var model = new DitModel(config, options.Seed);
        try
        {
            using var trainer = new VisionTrainer(model.Parameters, options, runDir);
            if (runDir is not null)
            {
                if (trainer.Resume()) VisionCheckpoint.LoadWeights(Path.Combine(runDir, Checkpoint.Folder, Checkpoint.ModelFile), model.Parameters);
                VisionCheckpoint.Save(Path.Combine(runDir, Checkpoint.Folder, LatentDiffusion.VaeFolder), vae);
            }
            var schedule = NoiseSchedule.Create(config.NoiseSchedule, config.DiffusionSteps);
            using var objective = new DiffusionObjective(new Ddpm(schedule), config.ClassDropout);
            var order = new BatchOrder(train.Count, options.Seed);
            int B = options.BatchSize, size = model.Channels * model.Height * model.Width;
            var indices = new int[B];
            var labels = new int[B];
            using var x0 = Tensor.Zeros(B, model.Channels, model.Height, model.Width);
            var rng = new Philox(0);
            while (trainer.Step < options.Steps && !cancel.IsCancellationRequested)
            {
                order.Batch(trainer.Step, B, indices);
                var xs = x0.AsSpan();
                for (int b = 0; b < B; b++)
                {
                    latents.AsSpan(indices[b] * size, size).CopyTo(xs.Slice(b * size, size));
                    labels[b] = train.Labels[indices[b]];
                }
                rng.Restart(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)trainer.Step);   // t, ε and dropout of this step, the same on resume
                float loss = trainer.TrainStep(() => objective.Loss(model, x0, labels, rng));
                report?.Invoke(trainer.Step, loss);
                if (trainer.CheckpointDue && trainer.Step < options.Steps) trainer.Save(model);
            }
            trainer.Save(model);
            return model;
        }
        catch { model.Dispose(); throw; }
    }
}
