using System.Text.Json;

namespace Lathe.Tokenizers;

// The tokenizer pipeline, in the manner of Hugging Face tokenizers:
//   normalizer → pre-tokenizer → model (+ its trainer) → post-processor → decoder.
// Each stage is a narrow interface that serializes itself to its object in tokenizer.json.
// Offsets are tracked end to end: a normalizer keeps, for every char of its output, the index of the
// char of the original text it came from, so every token can name its span in the original text.

/// <summary>Text after normalization, with a map from each char back to the original text.</summary>
public sealed class NormalizedText
{
    /// <summary>The normalized text.</summary>
    public string Text { get; }

    /// <summary>For each char of <see cref="Text"/>, the index of the original char it came from;
    /// null means the identity map (nothing changed length).</summary>
    public int[]? OriginalIndex { get; }

    /// <summary>For each char of <see cref="Text"/>, the end (exclusive) of the original chars it came from, when a
    /// char stands for more than one original char (a composition); null means OriginalIndex + 1.</summary>
    public int[]? OriginalEnd { get; }

    /// <summary>Length of the original text (so an end offset equal to Text.Length maps to it).</summary>
    public int OriginalLength { get; }

    public NormalizedText(string text, int[]? originalIndex, int originalLength, int[]? originalEnd = null)
    {
        if (originalIndex is not null && originalIndex.Length != text.Length)
            throw new ArgumentException("originalIndex must have one entry per char of text.", nameof(originalIndex));
        if (originalEnd is not null && (originalIndex is null || originalEnd.Length != text.Length))
            throw new ArgumentException("originalEnd needs originalIndex and one entry per char of text.", nameof(originalEnd));
        Text = text;
        OriginalIndex = originalIndex;
        OriginalEnd = originalEnd;
        OriginalLength = originalLength;
    }

    public static NormalizedText Identity(string text) => new(text, null, text.Length);

    /// <summary>Maps a start offset in <see cref="Text"/> to the original text.</summary>
    public int ToOriginalStart(int i) =>
        OriginalIndex is null ? i : i < OriginalIndex.Length ? OriginalIndex[i] : OriginalLength;

    /// <summary>Maps an exclusive end offset in <see cref="Text"/> to the original text.</summary>
    public int ToOriginalEnd(int end) =>
        OriginalIndex is null ? end : end <= 0 ? 0 : end > OriginalIndex.Length ? OriginalLength
            : OriginalEnd is not null ? OriginalEnd[end - 1] : OriginalIndex[end - 1] + 1;

    /// <summary>The original span [start, end) of the normalized char at <paramref name="i"/>.</summary>
    internal (int Start, int End) OriginalSpan(int i) => (ToOriginalStart(i), ToOriginalEnd(i + 1));
}

/// <summary>A span of the normalized text that the model tokenizes on its own.</summary>
public readonly record struct PreToken(int Start, int Length);

/// <summary>One token: its id and its [Start, End) char span in the text the model saw.</summary>
public readonly record struct Token(int Id, int Start, int End);

public interface INormalizer
{
    /// <summary>Normalizes, composing with the map of <paramref name="input"/>.</summary>
    NormalizedText Normalize(NormalizedText input);
    /// <summary>Writes this normalizer's object of tokenizer.json ("type": …).</summary>
    void WriteJson(Utf8JsonWriter writer);
}

public interface IPreTokenizer
{
    /// <summary>Splits <paramref name="text"/> into pieces, appended to <paramref name="output"/> in order.</summary>
    void Split(string text, List<PreToken> output);
    void WriteJson(Utf8JsonWriter writer);
}

public interface ITokenizerModel
{
    /// <summary>"BPE", "WordPiece" or "Unigram", as tokenizer.json names it.</summary>
    string Type { get; }
    int VocabSize { get; }
    /// <summary>Tokenizes one pre-token <paramref name="piece"/> of <paramref name="text"/>, appending
    /// tokens whose offsets are in <paramref name="text"/>.</summary>
    void Tokenize(string text, PreToken piece, List<Token> output);
    string? IdToToken(int id);
    bool TryTokenToId(string token, out int id);
    /// <summary>Writes the "model" object of tokenizer.json.</summary>
    void WriteJson(Utf8JsonWriter writer);
}

/// <summary>Learns a model from pre-tokenized words and their counts.</summary>
public interface ITokenizerTrainer
{
    ITokenizerModel Train(IReadOnlyDictionary<string, long> wordCounts, IProgress<double>? progress = null);
}

public interface IDecoder
{
    /// <summary>Turns token strings back into text.</summary>
    string Decode(IReadOnlyList<string> tokens);
    void WriteJson(Utf8JsonWriter writer);
}

/// <summary>What the data stage needs of a tokenizer: text in, ids out, and the document separator.</summary>
public interface ITextEncoder
{
    int VocabSize { get; }
    /// <summary>The id that separates documents in token shards (e.g. GPT-2's &lt;|endoftext|&gt; = 50256).</summary>
    int EndOfTextId { get; }
    /// <summary>Appends the ids of <paramref name="text"/> to <paramref name="ids"/>; thread-safe.</summary>
    void Encode(string text, List<int> ids);
}
