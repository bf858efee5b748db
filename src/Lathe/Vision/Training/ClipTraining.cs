using System.Diagnostics;
using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tokenizers;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>What a CLIP training run is asked to do.</summary>
public sealed record ClipTrainingOptions
{
    public required string OutDir { get; init; }
    /// <summary>A trained ViT checkpoint to start the image tower from (its shape becomes the vision_config); null for a
    /// fresh tower.</summary>
    public string? VisionDir { get; init; }
    /// <summary>Folder of the Fashion-MNIST IDX files (null: Debian's).</summary>
    public string? DataDir { get; init; }
    /// <summary>Train on the first this-many training images (0: all 60,000).</summary>
    public int Images { get; init; }
    public ClipConfig Config { get; init; } = new();
    public VisionTrainingOptions Training { get; init; } = new() { Steps = 1000, BatchSize = 128, LearningRate = 1e-3f, WarmupSteps = 50, WeightDecay = 0.1f };
    /// <summary>Continue from OutDir/checkpoint when it holds one.</summary>
    public bool Resume { get; init; }
}

/// <summary>One step's figures, for progress lines.</summary>
public readonly record struct ClipTrainingProgress(int Step, int Steps, float Loss, float LogitScale, double ImagesPerSecond);

/// <summary>The result of a run: where the checkpoint is and the last figures.</summary>
public sealed record ClipTrainingResult(string CheckpointDir, int Steps, float FinalLoss, float FirstLoss, double Seconds, double ImagesPerSecond, int TokenizerVocab);

/// <summary>Trains a CLIP on Fashion-MNIST's training images and their captions (<see cref="CaptionSet"/>, training
/// templates only) with <see cref="ContrastiveLoss"/> through <see cref="VisionTrainer"/>: the caption tokenizer is
/// learned from the training captions first and saved beside the weights (checkpoint/tokenizer.json).</summary>
public static class ClipTraining
{
    public static ClipTrainingResult Run(ClipTrainingOptions o, IProgress<ClipTrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        var images = FashionMnist.Train(o.DataDir);
        if (o.Images > 0) images = images.Take(o.Images);
        var captions = CaptionSet.Build(images, CaptionSplit.Train);
        var texts = captions.Entries.Select(e => e.Caption).ToList();
        string checkpoint = Path.Combine(o.OutDir, Checkpoint.Folder);
        bool resuming = o.Resume && File.Exists(Path.Combine(checkpoint, Checkpoint.StateFile));
        var tokenizer = resuming ? CaptionTokenizer.Load(checkpoint) : CaptionTokenizer.Train(texts);

        var config = resuming ? ClipConfig.FromJson(File.ReadAllText(Path.Combine(checkpoint, Checkpoint.ConfigFile))) : o.Config;
        if (!resuming && o.VisionDir is not null)
        {
            using var vit = VisionCheckpoint.Load<VitModel>(o.VisionDir, "a ViT");
            config = config with { Vision = vit.Config with { Labels = 0, Dropout = 0 } };
        }
        config = config with { Text = config.Text with { VocabSize = tokenizer.VocabSize } };
        if (config.Vision.ImageSize != images.Height || config.Vision.Channels != images.Channels)
            throw new ArgumentException($"clip: the image tower takes {config.Vision.Channels}×{config.Vision.ImageSize}×{config.Vision.ImageSize} images, the data are {images.Channels}×{images.Height}×{images.Width}");

        using var model = new ClipModel(config, o.Training.Seed);
        if (resuming) VisionCheckpoint.LoadWeights(Path.Combine(checkpoint, Checkpoint.ModelFile), model.Parameters);
        else if (o.VisionDir is not null) model.LoadVisionTower(o.VisionDir);
        var encoded = CaptionBatch.Encode(tokenizer, texts, config.Text.MaxPositions);
        using var trainer = new VisionTrainer(model.Parameters, o.Training, o.OutDir);
        if (resuming) trainer.Resume();
        else CaptionTokenizer.Save(tokenizer, checkpoint);

        int B = o.Training.BatchSize;
        var order = new BatchOrder(images.Count, o.Training.Seed);
        var indices = new int[B];
        var ids = new int[B * config.Text.MaxPositions];
        var lengths = new int[B];
        using var batch = Tensor.Empty(B, images.Channels, images.Height, images.Width);
        int T = 0;
        Tensor Loss() => model.Loss(batch, ids.AsSpan(0, B * T), lengths, T);
        var watch = Stopwatch.StartNew();
        int startStep = trainer.Step;
        float first = float.NaN;
        while (trainer.Step < o.Training.Steps && !cancel.IsCancellationRequested)
        {
            order.Batch(trainer.Step, B, indices);
            images.Fill(batch, indices);
            T = encoded.Fill(indices, ids, lengths);
            float loss = trainer.TrainStep(Loss);
            if (float.IsNaN(first)) first = loss;
            double rate = (trainer.Step - startStep) * (double)B / watch.Elapsed.TotalSeconds;
            progress?.Report(new ClipTrainingProgress(trainer.Step, o.Training.Steps, loss, model.LogitScale.AsSpan()[0], rate));
            if (trainer.CheckpointDue) trainer.Save(model);
        }
        if (cancel.IsCancellationRequested) trainer.Save(model);
        double seconds = watch.Elapsed.TotalSeconds;
        return new ClipTrainingResult(checkpoint, trainer.Step, trainer.LastLoss, first, seconds,
            (trainer.Step - startStep) * (double)B / Math.Max(seconds, 1e-9), tokenizer.VocabSize);
    }

    /// <summary>Loads a trained CLIP and its caption tokenizer from a run folder or its checkpoint folder.</summary>
    public static (ClipModel Model, Tokenizer Tokenizer) Load(string dir)
    {
        string checkpoint = File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)) ? dir : Path.Combine(dir, Checkpoint.Folder);
        var model = VisionCheckpoint.Load<ClipModel>(dir, "a CLIP");
        try { return (model, CaptionTokenizer.Load(checkpoint)); }
        catch { model.Dispose(); throw; }
    }
}
