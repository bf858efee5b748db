using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>Trains a <see cref="VaeModel"/> on images with <see cref="VisionTrainer"/> (metrics.jsonl, checkpoints,
/// resume), then sets its latent scaling factor from the training set's posterior means and writes the final checkpoint.</summary>
public static class VaeTraining
{
    /// <summary>Runs (or resumes, when <paramref name="runDir"/> holds a checkpoint) the training; returns the model,
    /// caller-owned. <paramref name="report"/> hears (step, loss, reconstruction, KL) after every step.</summary>
    public static VaeModel Run(VaeConfig config, VisionTrainingOptions options, ImageSet train, string? runDir,
        Action<int, float, float, float>? report = null, CancellationToken cancel = default)
    {
        if (train.Channels != config.InChannels || train.Height != config.ImageSize || train.Width != config.ImageSize)
            throw new ArgumentException($"VAE: the images are {train.Channels}×{train.Height}×{train.Width}, the model takes {config.InChannels}×{config.ImageSize}×{config.ImageSize}");
        var model = new VaeModel(config, options.Seed);
        try
        {
            using var trainer = new VisionTrainer(model.Parameters, options, runDir);
            if (runDir is not null && trainer.Resume())
                VisionCheckpoint.LoadWeights(Path.Combine(runDir, Checkpoint.Folder, Checkpoint.ModelFile), model.Parameters);
            var order = new BatchOrder(train.Count, options.Seed);
            int B = options.BatchSize;
            var indices = new int[B];
            using var x = Tensor.Zeros(B, config.InChannels, config.ImageSize, config.ImageSize);
            var rng = new Philox(0);
            float reconstruction = 0, kl = 0;
            while (trainer.Step < options.Steps && !cancel.IsCancellationRequested)
            {
                order.Batch(trainer.Step, B, indices);
                train.Fill(x, indices);
                rng.Restart(options.Seed * 0x9E3779B97F4A7C15UL + (ulong)trainer.Step);   // the step's noise, the same on resume
                float loss = trainer.TrainStep(() =>
                {
                    var l = model.Loss(x, rng);
                    reconstruction = l.Reconstruction.Item();
                    kl = l.Kl.Item();
                    return l.Total;
                }, () => [new("reconstruction", reconstruction), new("kl", kl)]);
                report?.Invoke(trainer.Step, loss, reconstruction, kl);
                if (trainer.CheckpointDue && trainer.Step < options.Steps) trainer.Save(model);
            }
            model.SetScalingFactor(VaeModel.LatentScale(model.EncodeMeans(train)));
            trainer.Save(model);
            return model;
        }
        catch { model.Dispose(); throw; }
    }
}
