using System.Globalization;
using System.Text.Json;

namespace Lathe.Tokenizers;

/// <summary>A pre-tokenizer that also rewrites the text before splitting it (Metaspace turns spaces into ▁); the
/// rewrite keeps one char per char (plus an optional prepended one mapped to the first), so offsets survive.</summary>
public interface IRewritingPreTokenizer : IPreTokenizer
{
    /// <param name="first">Whether this is the first section of the input (before any added token).</param>
    NormalizedText Rewrite(NormalizedText text, bool first);
}

/// <summary>Shared walking of code points for the splitters below.</summary>
internal static class Splitting
{
    public static int Width(string s, int i) => char.IsSurrogatePair(s, i) ? 2 : 1;

    /// <summary>Pieces of maximal runs of code points of the same class; class 0 is dropped (whitespace),
    /// class -1 is isolated (one piece per code point).</summary>
    public static void ByClass(string text, List<PreToken> output, Func<string, int, int> classOf)
    {
        int i = 0;
        while (i < text.Length)
        {
            int cls = classOf(text, i), w = Width(text, i);
            if (cls == 0) { i += w; continue; }
            int start = i;
            i += w;
            if (cls != -1)
                while (i < text.Length && classOf(text, i) == cls) i += Width(text, i);
            output.Add(new PreToken(start, i - start));
        }
    }

    public static void WriteType(Utf8JsonWriter w, string type) { w.WriteStartObject(); w.WriteString("type", type); w.WriteEndObject(); }

    /// <summary>Hugging Face's Split pre-tokenizer with an isolated regex: how the hand-written split patterns
    /// (cl100k, o200k, qwen2, the case-splitting ones) describe themselves in tokenizer.json.</summary>
    public static void WriteRegexSplit(Utf8JsonWriter w, string pattern)
    {
        w.WriteStartObject();
        w.WriteString("type", "Split");
        w.WriteStartObject("pattern");
        w.WriteString("Regex", pattern);
        w.WriteEndObject();
        w.WriteString("behavior", "Isolated");
        w.WriteBoolean("invert", false);
        w.WriteEndObject();
    }
}

/// <summary>Hugging Face's Whitespace: the pattern \w+|[^\w\s]+ (word chars are letters, marks, digits and
/// connector punctuation, as in the Rust regex crate's \w).</summary>
public sealed class WhitespacePreTokenizer : IPreTokenizer
{
    static int Class(string s, int i)
    {
        if (char.IsWhiteSpace(s, i)) return 0;
        var c = CharUnicodeInfo.GetUnicodeCategory(s, i);
        bool word = c is UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation
            || s[i] is '\u200C' or '\u200D';
        return word ? 1 : 2;
    }
    public void Split(string text, List<PreToken> output) => Splitting.ByClass(text, output, Class);
    public void WriteJson(Utf8JsonWriter w) => Splitting.WriteType(w, "Whitespace");
}

/// <summary>Splits on whitespace, which is dropped.</summary>
public sealed class WhitespaceSplitPreTokenizer : IPreTokenizer
{
    public void Split(string text, List<PreToken> output) => Splitting.ByClass(text, output, (s, i) => char.IsWhiteSpace(s, i) ? 0 : 1);
    public void WriteJson(Utf8JsonWriter w) => Splitting.WriteType(w, "WhitespaceSplit");
}

/// <summary>BERT's: split on whitespace (dropped) and isolate every punctuation char.</summary>
public sealed class BertPreTokenizer : IPreTokenizer
{
    static int Class(string s, int i)
    {
        int cp = char.ConvertToUtf32(s, i);
        return BertText.IsWhitespace(cp) ? 0 : BertText.IsPunctuation(cp) ? -1 : 1;
    }
    public void Split(string text, List<PreToken> output) => Splitting.ByClass(text, output, Class);
    public void WriteJson(Utf8JsonWriter w) => Splitting.WriteType(w, "BertPreTokenizer");
}

/// <summary>Isolates each punctuation char (behavior "Isolated"); everything else stays as it is.</summary>
public sealed class PunctuationPreTokenizer : IPreTokenizer
{
    // ASCII punctuation or a Unicode P* category — the same set as BERT's.
    static int Class(string s, int i) => BertText.IsPunctuation(char.ConvertToUtf32(s, i)) ? -1 : 1;
    public void Split(string text, List<PreToken> output) => Splitting.ByClass(text, output, Class);
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Punctuation");
        w.WriteString("behavior", "Isolated");
        w.WriteEndObject();
    }
}

/// <summary>Isolates digits: each digit alone (individual_digits) or runs of digits.</summary>
public sealed class DigitsPreTokenizer(bool individualDigits) : IPreTokenizer
{
    public bool IndividualDigits { get; } = individualDigits;
    public void Split(string text, List<PreToken> output) =>
        Splitting.ByClass(text, output, (s, i) => char.IsDigit(s, i) ? (IndividualDigits ? -1 : 2) : 1);
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Digits");
        w.WriteBoolean("individual_digits", IndividualDigits);
        w.WriteEndObject();
    }
}

/// <summary>SentencePiece's word boundaries: every space becomes the replacement (▁), a ▁ is prepended per the
/// scheme ("always", "first" section only, or "never"), and each piece starts at a ▁ (split = true).</summary>
public sealed class MetaspacePreTokenizer(char replacement = '▁', string prependScheme = "always", bool split = true) : IRewritingPreTokenizer
{
    public char Replacement { get; } = replacement;
    public string PrependScheme { get; } = prependScheme is "always" or "first" or "never" ? prependScheme
        : throw new InvalidDataException($"Metaspace: prepend_scheme '{prependScheme}' is not always, first or never");
    public bool SplitPieces { get; } = split;

    public NormalizedText Rewrite(NormalizedText text, bool first)
    {
        string s = text.Text.Replace(' ', Replacement);
        bool prepend = (PrependScheme == "always" || (PrependScheme == "first" && first)) && !s.StartsWith(Replacement);
        if (!prepend) return new NormalizedText(s, text.OriginalIndex, text.OriginalLength, text.OriginalEnd);
        // The prepended ▁ stands for the first char (as Hugging Face aligns it).
        var starts = new int[s.Length + 1];
        var ends = new int[s.Length + 1];
        (starts[0], ends[0]) = s.Length > 0 ? text.OriginalSpan(0) : (0, 0);
        for (int i = 0; i < s.Length; i++) (starts[i + 1], ends[i + 1]) = text.OriginalSpan(i);
        return new NormalizedText(Replacement + s, starts, text.OriginalLength, ends);
    }

    public void Split(string text, List<PreToken> output)
    {
        if (!SplitPieces) { if (text.Length > 0) output.Add(new PreToken(0, text.Length)); return; }
        int start = 0;
        for (int i = 1; i < text.Length; i++)
            if (text[i] == Replacement) { output.Add(new PreToken(start, i - start)); start = i; }
        if (text.Length > start) output.Add(new PreToken(start, text.Length - start));
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Metaspace");
        w.WriteString("replacement", Replacement.ToString());
        w.WriteString("prepend_scheme", PrependScheme);
        w.WriteBoolean("split", SplitPieces);
        w.WriteEndObject();
    }
}

/// <summary>Pre-tokenizers applied in order, each splitting the pieces of the one before.</summary>
public sealed class SequencePreTokenizer(IReadOnlyList<IPreTokenizer> preTokenizers) : IRewritingPreTokenizer
{
    public IReadOnlyList<IPreTokenizer> PreTokenizers { get; } = preTokenizers;

    public NormalizedText Rewrite(NormalizedText text, bool first)
    {
        foreach (var p in PreTokenizers) if (p is IRewritingPreTokenizer r) text = r.Rewrite(text, first);
        return text;
    }

    public void Split(string text, List<PreToken> output)
    {
        var current = new List<PreToken> { new(0, text.Length) };
        var next = new List<PreToken>();
        var inner = new List<PreToken>();
        foreach (var p in PreTokenizers)
        {
            next.Clear();
            foreach (var piece in current)
            {
                inner.Clear();
                p.Split(text.Substring(piece.Start, piece.Length), inner);
                foreach (var q in inner) next.Add(new PreToken(piece.Start + q.Start, q.Length));
            }
            (current, next) = (next, current);
        }
        foreach (var piece in current) if (piece.Length > 0) output.Add(piece);
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray("pretokenizers");
        foreach (var p in PreTokenizers) p.WriteJson(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
