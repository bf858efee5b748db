using Lathe.Vision.Data;

namespace Lathe.Vision.Metrics;

/// <summary>How well generated captions describe their images, pooled over a test set:
/// <list type="bullet">
/// <item>BLEU-4 (<see cref="Bleu"/>) against the split's reference captions (one per image, worded by any template,
/// including the held-out ones), and against the full-template rendering that names every attribute.</item>
/// <item>exact-attribute accuracy: the fraction of images whose caption contains the class word and every attribute
/// word of its reference caption (as whole words).</item>
/// <item>class accuracy and, per attribute (brightness, size, shape, texture), the fraction of images whose caption names
/// the image's true value (read by <see cref="CaptionSet.Parse"/>; naming none or two values counts as wrong).</item>
/// </list></summary>
public sealed class CaptionScores
{
    readonly Bleu _bleu = new(), _bleuFull = new();
    int _count, _exact, _class, _all;
    readonly int[] _attributes = new int[4];

    public int Count => _count;

    /// <summary>Scores <paramref name="generated"/> for an image of class <paramref name="label"/> with true attributes
    /// <paramref name="truth"/> and reference caption <paramref name="reference"/>.</summary>
    public void Add(string generated, string reference, int label, ImageAttributes truth)
    {
        _count++;
        _bleu.Add(generated, [reference]);
        string full = CaptionSet.Render(CaptionSet.FullTemplate, label, truth);
        _bleuFull.Add(generated, [full]);
        var got = CaptionSet.Parse(generated);
        var want = CaptionSet.Parse(reference);
        bool classOk = got.Label == label;
        if (classOk) _class++;
        // The reference's words: its class and each attribute it names must be named the same in the caption.
        if (got.Label == want.Label && Same(want.Brightness, got.Brightness) && Same(want.Size, got.Size)
            && Same(want.Shape, got.Shape) && Same(want.Texture, got.Texture)) _exact++;
        bool b = got.Brightness == (int)truth.Brightness, s = got.Size == (int)truth.Size;
        bool h = got.Shape == (int)truth.Shape, t = got.Texture == (int)truth.Texture;
        if (b) _attributes[0]++;
        if (s) _attributes[1]++;
        if (h) _attributes[2]++;
        if (t) _attributes[3]++;
        if (classOk && b && s && h && t) _all++;
    }

    // An attribute the reference names must be named with the same value; one it does not name is not asked for.
    static bool Same(int? reference, int? generated) => reference is null || reference == generated;

    public double Bleu4 => _bleu.Score;
    public double Bleu4Full => _bleuFull.Score;
    public double ExactAttributeAccuracy => Ratio(_exact);
    public double ClassAccuracy => Ratio(_class);
    public double BrightnessAccuracy => Ratio(_attributes[0]);
    public double SizeAccuracy => Ratio(_attributes[1]);
    public double ShapeAccuracy => Ratio(_attributes[2]);
    public double TextureAccuracy => Ratio(_attributes[3]);
    /// <summary>Class and all four attributes right.</summary>
    public double AllCorrect => Ratio(_all);

    double Ratio(int n) => _count == 0 ? 0 : (double)n / _count;
}
