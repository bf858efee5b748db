using Lathe.Formats;
using Lathe.Inference;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Metrics;

namespace Lathe.Vision.Inference;

/// <summary>A trained captioner with its tokenizer, as a checkpoint folder holds them: captions for images, and the
/// scores of its captions on a test split.</summary>
public sealed class Captioner : IDisposable
{
    public CaptionerModel Model { get; }
    public Tokenizer Tokenizer { get; }

    public Captioner(CaptionerModel model, Tokenizer tokenizer)
    {
        if (tokenizer.VocabSize > model.Config.Text.VocabSize)
            throw new InvalidDataException($"captioner: the tokenizer has {tokenizer.VocabSize} ids, the decoder {model.Config.Text.VocabSize}");
        Model = model;
        Tokenizer = tokenizer;
    }

    /// <summary>True when <paramref name="dir"/> (or its checkpoint/) holds a captioner.</summary>
    public static bool IsCaptioner(string dir) => Directory.Exists(dir) && VisionCheckpoint.ModelTypeOf(dir) == CaptionerConfig.Type;

    /// <summary>Opens the captioner in <paramref name="dir"/> (a checkpoint folder or a run folder holding checkpoint/).</summary>
    public static Captioner Open(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"--model {dir}: no such folder");
        var model = VisionCheckpoint.Load<CaptionerModel>(dir, "a captioner (vit-captioner)");
        try
        {
            string folder = File.Exists(Path.Combine(dir, Checkpoint.ConfigFile)) ? dir : Path.Combine(dir, Checkpoint.Folder);
            return new Captioner(model, CaptionTokenizer.Load(folder));
        }
        catch { model.Dispose(); throw; }
    }

    /// <summary>Captions of <paramref name="images"/> (N, C, H, W).</summary>
    public string[] Caption(Tensor images, int maxTokens, SamplingOptions options)
    {
        Model.Vision.CheckImages(images);
        using var tape = new Tape();
        List<int>[] ids;
        using (tape.Activate())
        using (Tape.NoGrad())
            ids = CaptionDecoder.Generate(Model.Language, Model.ImageTokens(images), Model.Config.EndOfTextId, maxTokens, options);
        var text = new string[ids.Length];
        for (int i = 0; i < ids.Length; i++) text[i] = Tokenizer.Decode(ids[i]).Trim();
        return text;
    }

    /// <summary>Greedy captions of the first <paramref name="limit"/> images of a captioned split, scored against their
    /// references and attributes; <paramref name="examples"/> receives the first few (reference, generated) pairs.</summary>
    public CaptionScores Evaluate(ImageSet images, CaptionSet captions, int limit, int batchSize, int maxTokens,
        List<(string Reference, string Generated)>? examples = null, IProgress<int>? progress = null)
    {
        int n = Math.Min(limit, images.Count);
        var scores = new CaptionScores();
        var greedy = new SamplingOptions { Temperature = 0 };
        var indices = new int[batchSize];
        for (int start = 0; start < n; start += batchSize)
        {
            int b = Math.Min(batchSize, n - start);
            for (int i = 0; i < b; i++) indices[i] = start + i;
            using var pixels = images.Batch(indices.AsSpan(0, b));
            var text = Caption(pixels, maxTokens, greedy);
            for (int i = 0; i < b; i++)
            {
                var e = captions.Entries[start + i];
                scores.Add(text[i], e.Caption, e.Label, e.Attributes);
                if (examples is not null && examples.Count < 8) examples.Add((e.Caption, text[i]));
            }
            progress?.Report(start + b);
        }
        return scores;
    }

    public void Dispose() => Model.Dispose();
}
