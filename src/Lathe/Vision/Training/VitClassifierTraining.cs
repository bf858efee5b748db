using System.Diagnostics;
using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Images;

namespace Lathe.Vision.Training;

/// <summary>What a ViT classifier run does besides the optimizer's options: augmentation, evaluation cadence.</summary>
public sealed record VitRunOptions
{
    /// <summary>Random-crop padding in pixels (0: no crop).</summary>
    public int CropPad { get; init; } = 2;
    public bool Flip { get; init; } = true;
    /// <summary>Label smoothing ε of the cross-entropy (0: none); see <see cref="SmoothedCrossEntropy"/>.</summary>
    public float LabelSmoothing { get; init; }
    /// <summary>Steps between test-set evaluations (0: only at the end).</summary>
    public int EvalEvery { get; init; }
    /// <summary>Images of the test set evaluated during training (0: all); the final evaluation uses all.</summary>
    public int EvalLimit { get; init; }
    /// <summary>Steps between progress lines.</summary>
    public int LogEvery { get; init; } = 50;
}

/// <summary>The outcome of a run: the final test score, steps taken, wall time, and whether it was interrupted.</summary>
public sealed record VitRunResult(ClassifierScore Test, int Steps, double Seconds, double ImagesPerSecond, bool Interrupted);

/// <summary>Trains a ViT classifier with <see cref="VisionTrainer"/> on labelled images: seeded batch order
/// (<see cref="BatchOrder"/>), per-step seeded augmentation and dropout (so a resumed run continues bit for bit),
/// cross-entropy, test-set evaluation every K steps and at the end, checkpoints into runDir/checkpoint/.</summary>
public static class VitClassifierTraining
{
    /// <summary>Continues from runDir/checkpoint/ when <paramref name="resume"/> and a checkpoint is there (the
    /// model must have been built from that checkpoint's config; its weights are loaded here). Progress and evaluation
    /// lines go to <paramref name="log"/>. Cancelling <paramref name="cancel"/> ends the run after the current step,
    /// with a checkpoint.</summary>
    public static VitRunResult Run(VitModel model, ImageSet train, ImageSet test, VisionTrainingOptions options, VitRunOptions run,
        string runDir, bool resume, TextWriter log, CancellationToken cancel = default)
    {
        var c = model.Config;
        if (train.Channels != c.Channels || train.Height != c.ImageSize || train.Width != c.ImageSize)
            throw new ArgumentException($"vit train: the images are {train.Channels}×{train.Height}×{train.Width}, the model takes {c.Channels}×{c.ImageSize}×{c.ImageSize}");
        if (train.ClassNames.Count > c.Labels)
            throw new ArgumentException($"vit train: the data has {train.ClassNames.Count} classes, the model's classifier {c.Labels}");
        using var trainer = new VisionTrainer(model.Parameters, options, runDir);
        if (resume)
        {
            string dir = Path.Combine(runDir, Checkpoint.Folder);
            VisionCheckpoint.LoadWeights(Path.Combine(dir, Checkpoint.ModelFile), model.Parameters);
            if (!trainer.Resume()) throw new FileNotFoundException($"{dir}: no trainer state to resume from");
            log.WriteLine($"vit: resumed at step {trainer.Step}");
        }
        if (!(run.LabelSmoothing >= 0 && run.LabelSmoothing < 1))
            throw new ArgumentException($"vit train: label smoothing {run.LabelSmoothing} must be in [0, 1)");
        int B = options.BatchSize;
        var order = new BatchOrder(train.Count, options.Seed);
        var indices = new int[B];
        var labels = new int[B];
        var scratch = new float[train.Height * train.Width];
        using var batch = Tensor.Empty(B, train.Channels, train.Height, train.Width);
        var rng = new Philox(0);
        int firstStep = trainer.Step;
        var clock = Stopwatch.StartNew();
        bool interrupted = false;
        model.Training = true;
        try
        {
            while (trainer.Step < options.Steps)
            {
                int s = trainer.Step;
                order.Batch(s, B, indices);
                train.Fill(batch, indices);
                for (int i = 0; i < B; i++) labels[i] = train.Labels[indices[i]];
                if (run.CropPad > 0 || run.Flip)
                {
                    rng.Restart(options.Seed * 0x9E3779B97F4A7C15UL ^ (ulong)(s + 1));
                    ImageAugment.Apply(batch, run.CropPad, run.Flip, rng, scratch);
                }
                model.DropoutSeed = options.Seed * 1_000_003UL + (ulong)s;
                trainer.TrainStep(() => SmoothedCrossEntropy.Forward(model.Logits(batch), labels, run.LabelSmoothing));
                int step = trainer.Step;
                if (run.LogEvery > 0 && (step % run.LogEvery == 0 || step == options.Steps))
                {
                    double rate = (double)(step - firstStep) * B / clock.Elapsed.TotalSeconds;
                    log.WriteLine($"step {step}/{options.Steps}  loss {trainer.LastLoss:F4}  lr {trainer.LastLearningRate:G3}  {rate:F0} img/s  {clock.Elapsed.TotalSeconds:F0} s");
                }
                if (run.EvalEvery > 0 && step % run.EvalEvery == 0 && step < options.Steps)
                {
                    var score = ClassifierEvaluation.Evaluate(model, test, limit: run.EvalLimit);
                    trainer.SetValidation(score.Loss);
                    log.WriteLine($"eval step {step}: test accuracy {score.Accuracy:P2}, loss {score.Loss:F4} ({score.Count} images)");
                }
                if (cancel.IsCancellationRequested) { interrupted = true; trainer.Save(model); break; }
                if (trainer.CheckpointDue && step < options.Steps) trainer.Save(model);   // the last one after the final evaluation
            }
        }
        finally { model.Training = false; }
        double seconds = clock.Elapsed.TotalSeconds;
        var final = ClassifierEvaluation.Evaluate(model, test);
        trainer.SetValidation(final.Loss);
        if (!interrupted) trainer.Save(model);
        return new VitRunResult(final, trainer.Step, seconds, seconds > 0 ? (double)(trainer.Step - firstStep) * B / seconds : 0, interrupted);
    }
}
