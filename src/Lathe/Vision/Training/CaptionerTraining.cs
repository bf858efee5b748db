using Lathe.Tensors;
using Lathe.Tokenizers;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;

namespace Lathe.Vision.Training;

/// <summary>Trains a <see cref="CaptionerModel"/> on captioned images: each step a seeded batch of images and their
/// captions ([eot] caption [eot]), the image tokens from the encoder and adapter, <see cref="CaptionObjective"/>'s loss,
/// one <see cref="VisionTrainer"/> update of the trainable set (the encoder stays frozen unless the config tunes it).
/// Checkpoints (config.json + model.safetensors + tokenizer.json, optimizer and state) resume bit for bit.</summary>
public sealed class CaptionerTraining : IDisposable
{
    readonly CaptionerModel _model;
    readonly ImageSet _images;
    readonly int[][] _captions;
    readonly VisionTrainer _trainer;
    readonly BatchOrder _order;
    readonly CaptionObjective _objective = new();
    readonly CaptionTokenRows _batch = new();
    readonly Tensor _pixels;
    readonly int[] _indices;
    readonly Tokenizer _tokenizer;
    readonly string? _runDir;

    public VisionTrainer Trainer => _trainer;

    /// <param name="captions">One caption per image of <paramref name="images"/>, in order.</param>
    /// <param name="runDir">Where metrics.jsonl and checkpoint/ go; null for an in-memory run.</param>
    public CaptionerTraining(CaptionerModel model, Tokenizer tokenizer, ImageSet images, IReadOnlyList<string> captions,
        VisionTrainingOptions options, string? runDir)
    {
        if (captions.Count != images.Count) throw new ArgumentException($"captioner: {captions.Count} captions for {images.Count} images");
        var vc = model.Config.Vision;
        if (images.Channels != vc.Channels || images.Height != vc.ImageSize || images.Width != vc.ImageSize)
            throw new ArgumentException($"captioner: the images are {images.Channels}×{images.Height}×{images.Width}, the encoder takes {vc.Channels}×{vc.ImageSize}×{vc.ImageSize}");
        _model = model;
        _images = images;
        _tokenizer = tokenizer;
        _runDir = runDir;
        int eot = model.Config.EndOfTextId, room = model.Config.Text.MaxPositions - model.Config.ImageTokens;
        _captions = new int[captions.Count][];
        for (int i = 0; i < captions.Count; i++)
        {
            _captions[i] = CaptionTokenRows.Wrap(tokenizer.Encode(captions[i], allowSpecial: false), eot);
            if (_captions[i].Length > room)
                throw new ArgumentException($"caption {i} (\"{captions[i]}\") is {_captions[i].Length} tokens; after {model.Config.ImageTokens} image tokens the context of {model.Config.Text.MaxPositions} holds {room}");
        }
        _trainer = new VisionTrainer(model.Trainable, options, runDir, model.Parameters);
        _order = new BatchOrder(images.Count, options.Seed);
        _pixels = Tensor.Empty(options.BatchSize, images.Channels, images.Height, images.Width);
        _indices = new int[options.BatchSize];
    }

    /// <summary>Resumes from the run's checkpoint when there is one (weights into the model, optimizer and step into the
    /// trainer); false when the run starts fresh.</summary>
    public bool Resume()
    {
        if (_runDir is null) return false;
        string dir = Path.Combine(_runDir, Formats.Checkpoint.Folder);
        if (!File.Exists(Path.Combine(dir, Formats.Checkpoint.StateFile))) return false;
        VisionCheckpoint.LoadWeights(Path.Combine(dir, Formats.Checkpoint.ModelFile), _model.Parameters);
        return _trainer.Resume();
    }

    /// <summary>One update; returns the loss.</summary>
    public float Step()
    {
        int n = _indices.Length;
        _order.Batch(_trainer.Step, n, _indices);
        _images.Fill(_pixels, _indices);
        _batch.Fill(_captions, _indices, _model.Config.EndOfTextId);
        return _trainer.TrainStep(() => _objective.Loss(_model.Language, _model.ImageTokens(_pixels), _batch));
    }

    /// <summary>Writes the checkpoint (and the tokenizer beside it) when one is due.</summary>
    public void SaveIfDue()
    {
        if (_runDir is null || !_trainer.CheckpointDue) return;
        _trainer.Save(_model);
        CaptionTokenizer.Save(_tokenizer, Path.Combine(_runDir, Formats.Checkpoint.Folder));
    }

    public void Dispose()
    {
        _trainer.Dispose();
        _pixels.Dispose();
    }
}
