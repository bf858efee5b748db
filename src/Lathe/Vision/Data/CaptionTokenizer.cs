using Lathe.Formats;
using Lathe.Tokenizers;

namespace Lathe.Vision.Data;

/// <summary>The tokenizer shared by CLIP's text tower and the captioner's language model: a byte-level BPE (GPT-2's
/// pre-tokenizer) learned by Lathe's <see cref="BpeTrainer"/> from the training captions, with one special token,
/// &lt;|endoftext|&gt;, which ends every caption (CLIP reads its text embedding there) and pads after it. It is saved
/// as tokenizer.json in each checkpoint that uses it. Captions use about forty distinct words, so training stops
/// once each is one token: the vocabulary is the 256 bytes, the merges that build those words, and the special.</summary>
public static class CaptionTokenizer
{
    public const string EndOfText = "<|endoftext|>";
    /// <summary>An upper bound: training stops earlier, when no pair occurs twice.</summary>
    public const int DefaultVocabSize = 512;

    /// <summary>Learns the tokenizer from <paramref name="captions"/> (deterministic: same captions → same merges).</summary>
    public static Tokenizer Train(IEnumerable<string> captions, int vocabSize = DefaultVocabSize) =>
        new BpeTrainer(vocabSize, [EndOfText], minFrequency: 2).Train(captions);

    /// <summary>Learns it from the training split's captions (Fashion-MNIST's 60,000 training images).</summary>
    public static Tokenizer TrainOnTrainingCaptions(string? dir = null, int vocabSize = DefaultVocabSize) =>
        Train(CaptionSet.Load(CaptionSplit.Train, dir).Entries.Select(e => e.Caption), vocabSize);

    /// <summary>Writes <paramref name="dir"/>/tokenizer.json.</summary>
    public static void Save(Tokenizer tokenizer, string dir)
    {
        Directory.CreateDirectory(dir);
        TokenizerJson.Save(tokenizer, Path.Combine(dir, Checkpoint.TokenizerFile));
    }

    /// <summary>Reads <paramref name="dir"/>/tokenizer.json and checks it has the end-of-text token.</summary>
    public static Tokenizer Load(string dir)
    {
        string path = Path.Combine(dir, Checkpoint.TokenizerFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: caption tokenizer not found");
        var tokenizer = TokenizerJson.Load(path);
        if (tokenizer.EndOfTextId < 0) throw new InvalidDataException($"{path}: the tokenizer has no {EndOfText} token");
        return tokenizer;
    }

    /// <summary>Writes the ids of <paramref name="caption"/> followed by &lt;|endoftext|&gt; into <paramref name="ids"/>,
    /// padding the rest with &lt;|endoftext|&gt;; returns the number of ids up to and including the first end-of-text.
    /// A caption too long for the span is an error naming it.</summary>
    public static int Encode(Tokenizer tokenizer, string caption, Span<int> ids)
    {
        var list = tokenizer.Encode(caption, allowSpecial: false);
        if (list.Count + 1 > ids.Length)
            throw new ArgumentException($"caption \"{caption}\" is {list.Count + 1} tokens with its end-of-text; the text context holds {ids.Length}");
        for (int i = 0; i < list.Count; i++) ids[i] = list[i];
        ids[list.Count..].Fill(tokenizer.EndOfTextId);
        return list.Count + 1;
    }

    /// <summary>The longest caption of <paramref name="captions"/> in tokens, end-of-text included.</summary>
    public static int MaxLength(Tokenizer tokenizer, IEnumerable<string> captions)
    {
        int max = 0;
        foreach (var c in captions) max = Math.Max(max, tokenizer.Encode(c, allowSpecial: false).Count + 1);
        return max;
    }
}
