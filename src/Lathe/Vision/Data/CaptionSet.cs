using System.Text;
using System.Text.Json;
using Lathe.IO;
using Lathe.Tensors;

namespace Lathe.Vision.Data;

/// <summary>One image's caption: its index in the split, its class, the template the caption was rendered with and
/// the attributes it was computed from.</summary>
public sealed record CaptionEntry(int Index, int Label, int Template, string Caption, ImageAttributes Attributes);

/// <summary>Which half of the captions: training images with the training templates, or test images with every
/// template (including the held-out ones no training caption uses).</summary>
public enum CaptionSplit { Train, Test }

/// <summary>Captions for Fashion-MNIST built from the class name in plain words and the attributes
/// <see cref="ImageAttributes"/> derives from each image's pixels, through several templates. The template of image
/// i is picked by a counter-based RNG (Philox keyed by the seed, counter i), so a caption depends only on (seed,
/// split, index). Training captions use templates 0..<see cref="TrainingTemplates"/>−1; test captions draw from all
/// <see cref="Templates"/>, so about a quarter of them are worded in ways training never saw.</summary>
public sealed class CaptionSet
{
    public const ulong DefaultSeed = 22;

    /// <summary>The classes in plain words, in label order.</summary>
    public static readonly IReadOnlyList<string> ClassWords =
        ["t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"];

    /// <summary>The templates: {a} is the article of the noun phrase that follows ("a", "an", or nothing before a
    /// plural), {c} the class, {b} brightness, {s} size, {h} shape, {t} texture.</summary>
    public static readonly IReadOnlyList<string> Templates =
    [
        "a photo of {a} {b} {s} {c}",
        "{a} {s} {b} {c}",
        "{a} {h} {c}, {b}",
        "{a} {t} {b} {c}, {s} and {h}",
        "{a} {b} {t} {c}",
        "a picture of {a} {s} {h} {c}",
        // Held out: only test captions use these.
        "{a} {c}, {b}, {s} and {t}",
        "an image of {a} {h} {t} {c}",
    ];

    /// <summary>Templates [0, TrainingTemplates) are used for training captions; the rest are held out.</summary>
    public const int TrainingTemplates = 6;

    /// <summary>The template that names every attribute (captioners train on it to be scored attribute by attribute).</summary>
    public const int FullTemplate = 3;

    public CaptionSplit Split { get; }
    public IReadOnlyList<CaptionEntry> Entries { get; }

    CaptionSet(CaptionSplit split, CaptionEntry[] entries) { Split = split; Entries = entries; }

    /// <summary>Captions every image of <paramref name="images"/> (Fashion-MNIST's training set for
    /// <see cref="CaptionSplit.Train"/>, its test set for <see cref="CaptionSplit.Test"/>).</summary>
    public static CaptionSet Build(ImageSet images, CaptionSplit split, ulong seed = DefaultSeed)
    {
        if (images.ClassNames.Count != ClassWords.Count)
            throw new ArgumentException($"CaptionSet: the images have {images.ClassNames.Count} classes, captions know Fashion-MNIST's {ClassWords.Count}");
        var entries = new CaptionEntry[images.Count];
        int templates = split == CaptionSplit.Train ? TrainingTemplates : Templates.Count;
        // A different key per split, so train image i and test image i draw independently.
        ulong key = seed * 2 + (split == CaptionSplit.Train ? 0UL : 1UL);
        for (int i = 0; i < entries.Length; i++)
        {
            Philox.Block(key, (ulong)i, out uint r, out _, out _, out _);
            int template = (int)(r % (uint)templates);
            var a = ImageAttributes.Of(images, i);
            int label = images.Labels[i];
            entries[i] = new CaptionEntry(i, label, template, Render(template, label, a), a);
        }
        return new CaptionSet(split, entries);
    }

    /// <summary>Fashion-MNIST's split, captioned.</summary>
    public static CaptionSet Load(CaptionSplit split, string? dir = null, ulong seed = DefaultSeed) =>
        Build(split == CaptionSplit.Train ? FashionMnist.Train(dir) : FashionMnist.Test(dir), split, seed);

    /// <summary>Renders template <paramref name="template"/> for class <paramref name="label"/> with attributes
    /// <paramref name="a"/>.</summary>
    public static string Render(int template, int label, ImageAttributes a)
    {
        if ((uint)template >= (uint)Templates.Count) throw new ArgumentOutOfRangeException(nameof(template), $"template {template} is not one of the {Templates.Count}");
        if ((uint)label >= (uint)ClassWords.Count) throw new ArgumentOutOfRangeException(nameof(label), $"label {label} is not one of the {ClassWords.Count} classes");
        string[] words = Templates[template].Split(' ');
        var sb = new StringBuilder();
        for (int w = 0; w < words.Length; w++)
        {
            string word = words[w];
            if (word == "{a}")
            {
                if (IsPlural(label)) continue;
                string next = Fill(words[w + 1], label, a);
                word = "aeiou".Contains(next[0]) ? "an" : "a";
            }
            else word = Fill(word, label, a);
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(word);
        }
        return sb.ToString();
    }

    /// <summary>A zero-shot prompt for class <paramref name="label"/>: <paramref name="prompt"/> with {a} (the article)
    /// and {c} (the class) filled, e.g. "a photo of {a} {c}" → "a photo of an ankle boot".</summary>
    public static string Prompt(string prompt, int label)
    {
        string[] words = prompt.Split(' ');
        var sb = new StringBuilder();
        for (int w = 0; w < words.Length; w++)
        {
            string word = words[w];
            if (word == "{a}")
            {
                if (IsPlural(label)) continue;
                word = "aeiou".Contains(ClassWords[label][0]) ? "an" : "a";
            }
            else word = word.Replace("{c}", ClassWords[label]);
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(word);
        }
        return sb.ToString();
    }

    static bool IsPlural(int label) => label == 1; // "trousers"

    static string Fill(string word, int label, ImageAttributes a) => word
        .Replace("{c}", ClassWords[label]).Replace("{b}", a.BrightnessWord).Replace("{s}", a.SizeWord)
        .Replace("{h}", a.ShapeWord).Replace("{t}", a.TextureWord);

    /// <summary>What a caption says: the class (−1 when none or several are named) and each attribute it names (null when
    /// not named). Reads captions worded by any template, and free text (a captioner's output), word by word.</summary>
    public static ParsedCaption Parse(string caption)
    {
        string text = " " + caption.ToLowerInvariant().Replace(',', ' ').Replace('.', ' ') + " ";
        int label = -1, found = 0;
        for (int c = 0; c < ClassWords.Count; c++)
        {
            // "shirt" is inside "t-shirt": count a class only where it stands as its own phrase.
            if (text.Contains(" " + ClassWords[c] + " ", StringComparison.Ordinal)) { label = c; found++; }
        }
        if (found > 1) label = -1;
        return new ParsedCaption(label, Find(text, ImageAttributes.BrightnessWords), Find(text, ImageAttributes.SizeWords),
            Find(text, ImageAttributes.ShapeWords), Find(text, ImageAttributes.TextureWords));
    }

    static int? Find(string text, string[] words)
    {
        int? hit = null;
        for (int k = 0; k < words.Length; k++)
            if (text.Contains(" " + words[k] + " ", StringComparison.Ordinal))
            {
                if (hit is not null) return null; // two values of one attribute: say nothing
                hit = k;
            }
        return hit;
    }

    /// <summary>Writes one JSON object per image: {"index","label","caption","template","attributes":{…}}.</summary>
    public void WriteJsonl(string path)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream))
        {
            foreach (var e in Entries)
            {
                json.Reset(stream);
                json.WriteStartObject();
                json.WriteNumber("index", e.Index);
                json.WriteNumber("label", e.Label);
                json.WriteString("class", ClassWords[e.Label]);
                json.WriteString("caption", e.Caption);
                json.WriteNumber("template", e.Template);
                json.WriteStartObject("attributes");
                json.WriteString("brightness", e.Attributes.BrightnessWord);
                json.WriteString("size", e.Attributes.SizeWord);
                json.WriteString("shape", e.Attributes.ShapeWord);
                json.WriteString("texture", e.Attributes.TextureWord);
                json.WriteEndObject();
                json.WriteEndObject();
                json.Flush();
                stream.WriteByte((byte)'\n');
            }
        }
        AtomicFile.WriteAllBytes(path, stream.ToArray());
    }
}

/// <summary>What a caption names: class label (−1: none or ambiguous) and attribute values as indices into
/// <see cref="ImageAttributes"/>' word lists (null: not named).</summary>
public readonly record struct ParsedCaption(int Label, int? Brightness, int? Size, int? Shape, int? Texture);
