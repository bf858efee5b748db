using System.Globalization;
using System.Text;
using System.Text.Json;
using Lathe.Tokenizers.Unicode;

namespace Lathe.Tokenizers;

/// <summary>Builds a <see cref="NormalizedText"/> char by char, each output char remembering the original char it
/// came from, so normalizers compose and offsets survive them.</summary>
internal sealed class NormalizedBuilder(int capacity)
{
    readonly StringBuilder _text = new(capacity);
    readonly List<int> _start = new(capacity), _end = new(capacity);

    /// <summary>Appends chars that all stand for the original span [start, end).</summary>
    public void Append(ReadOnlySpan<char> chars, int start, int end)
    {
        _text.Append(chars);
        for (int i = 0; i < chars.Length; i++) { _start.Add(start); _end.Add(end); }
    }

    /// <summary>Copies chars [i, i + length) of <paramref name="input"/> unchanged, each keeping its own origin.</summary>
    public void Copy(NormalizedText input, int i, int length)
    {
        _text.Append(input.Text.AsSpan(i, length));
        for (int k = i; k < i + length; k++)
        {
            var (s, e) = input.OriginalSpan(k);
            _start.Add(s); _end.Add(e);
        }
    }

    public NormalizedText Build(NormalizedText input) => new(_text.ToString(), _start.ToArray(), input.OriginalLength, _end.ToArray());

    /// <summary>Rewrites <paramref name="input"/> one segment at a time — a character and the combining marks after
    /// it — so compositions and case maps that change lengths stay inside the segment they came from.</summary>
    public static NormalizedText BySegments(NormalizedText input, Func<string, string> rewrite)
    {
        string text = input.Text;
        var builder = new NormalizedBuilder(text.Length);
        int i = 0;
        while (i < text.Length)
        {
            int end = i + (char.IsSurrogatePair(text, i) ? 2 : 1);
            while (end < text.Length && IsMark(text, end)) end += char.IsSurrogatePair(text, end) ? 2 : 1;
            string segment = text.Substring(i, end - i), output = rewrite(segment);
            if (output == segment) builder.Copy(input, i, end - i);
            else
            {
                // As Hugging Face aligns them: the k-th output code point stands for the k-th original one (a
                // composition drops the spans of the chars it absorbed); extra output code points (a decomposition)
                // share the last original one's span.
                var originals = new List<int>();
                for (int j = i; j < end; j += char.IsSurrogatePair(text, j) ? 2 : 1) originals.Add(j);
                int k = 0;
                for (int o = 0; o < output.Length; k++)
                {
                    int w = char.IsSurrogatePair(output, o) ? 2 : 1;
                    int from = originals[Math.Min(k, originals.Count - 1)];
                    int to = from + (char.IsSurrogatePair(text, from) ? 2 : 1);
                    builder.Append(output.AsSpan(o, w), input.ToOriginalStart(from), input.ToOriginalEnd(to));
                    o += w;
                }
            }
            i = end;
        }
        return builder.Build(input);
    }

    internal static bool IsMark(string s, int i) =>
        CharUnicodeInfo.GetUnicodeCategory(s, i) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark;
}

/// <summary>Unicode NFC (our own tables: the runtime runs with invariant globalization, where string.Normalize does
/// nothing).</summary>
public sealed class NfcNormalizer : INormalizer
{
    public NormalizedText Normalize(NormalizedText input) =>
        Nfc.IsQuickNormalized(input.Text) ? input : NormalizedBuilder.BySegments(input, Nfc.Normalize);
    public void WriteJson(Utf8JsonWriter w) { w.WriteStartObject(); w.WriteString("type", "NFC"); w.WriteEndObject(); }
}

/// <summary>Unicode NFD (canonical decomposition).</summary>
public sealed class NfdNormalizer : INormalizer
{
    public NormalizedText Normalize(NormalizedText input) => NormalizedBuilder.BySegments(input, Nfc.Decompose);
    public void WriteJson(Utf8JsonWriter w) { w.WriteStartObject(); w.WriteString("type", "NFD"); w.WriteEndObject(); }
}

/// <summary>Lower-cases with the invariant culture's simple case mapping.</summary>
public sealed class LowercaseNormalizer : INormalizer
{
    public NormalizedText Normalize(NormalizedText input)
    {
        // One char to one char: the map does not change.
        var chars = input.Text.ToCharArray();
        for (int i = 0; i < chars.Length; i++) chars[i] = char.ToLowerInvariant(chars[i]);
        return new NormalizedText(new string(chars), input.OriginalIndex, input.OriginalLength, input.OriginalEnd);
    }
    public void WriteJson(Utf8JsonWriter w) { w.WriteStartObject(); w.WriteString("type", "Lowercase"); w.WriteEndObject(); }
}

/// <summary>Removes non-spacing marks (after an NFD normalizer this strips accents, as Hugging Face's StripAccents does).</summary>
public sealed class StripAccentsNormalizer : INormalizer
{
    public NormalizedText Normalize(NormalizedText input) => StripMarks(input);

    internal static NormalizedText StripMarks(NormalizedText input)
    {
        string text = input.Text;
        var builder = new NormalizedBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int width = char.IsSurrogatePair(text, i) ? 2 : 1;
            if (CharUnicodeInfo.GetUnicodeCategory(text, i) != UnicodeCategory.NonSpacingMark) builder.Copy(input, i, width);
            i += width;
        }
        return builder.Build(input);
    }
    public void WriteJson(Utf8JsonWriter w) { w.WriteStartObject(); w.WriteString("type", "StripAccents"); w.WriteEndObject(); }
}

/// <summary>BERT's normalizer: drop control chars and NUL/U+FFFD, map whitespace to ' ', pad CJK ideographs with
/// spaces, optionally strip accents (NFD, drop Mn) and lower-case. strip_accents null means "as lowercase".</summary>
public sealed class BertNormalizer(bool cleanText = true, bool handleChineseChars = true, bool? stripAccents = null, bool lowercase = true) : INormalizer
{
    public bool CleanText { get; } = cleanText;
    public bool HandleChineseChars { get; } = handleChineseChars;
    public bool? StripAccents { get; } = stripAccents;
    public bool Lowercase { get; } = lowercase;

    public NormalizedText Normalize(NormalizedText input)
    {
        string text = input.Text;
        var builder = new NormalizedBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            int width = char.IsSurrogatePair(text, i) ? 2 : 1;
            int cp = char.ConvertToUtf32(text, i);
            var (start, end) = (input.ToOriginalStart(i), input.ToOriginalEnd(i + width));
            if (CleanText && (cp == 0 || cp == 0xFFFD || BertText.IsControl(cp))) { }
            else if (CleanText && BertText.IsWhitespace(cp)) builder.Append(" ", start, end);
            else if (HandleChineseChars && BertText.IsCjk(cp)) { builder.Append(" ", start, start); builder.Copy(input, i, width); builder.Append(" ", end, end); }
            else builder.Copy(input, i, width);
            i += width;
        }
        var result = builder.Build(input);
        if (StripAccents ?? Lowercase) result = StripAccentsNormalizer.StripMarks(NormalizedBuilder.BySegments(result, Nfc.Decompose));
        if (Lowercase) result = new LowercaseNormalizer().Normalize(result);
        return result;
    }

    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "BertNormalizer");
        w.WriteBoolean("clean_text", CleanText);
        w.WriteBoolean("handle_chinese_chars", HandleChineseChars);
        if (StripAccents is bool s) w.WriteBoolean("strip_accents", s); else w.WriteNull("strip_accents");
        w.WriteBoolean("lowercase", Lowercase);
        w.WriteEndObject();
    }
}

/// <summary>Normalizers applied in order.</summary>
public sealed class SequenceNormalizer(IReadOnlyList<INormalizer> normalizers) : INormalizer
{
    public IReadOnlyList<INormalizer> Normalizers { get; } = normalizers;
    public NormalizedText Normalize(NormalizedText input)
    {
        foreach (var n in Normalizers) input = n.Normalize(input);
        return input;
    }
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type", "Sequence");
        w.WriteStartArray("normalizers");
        foreach (var n in Normalizers) n.WriteJson(w);
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>The character classes of BERT's original tokenization (its published code's definitions).</summary>
internal static class BertText
{
    public static bool IsWhitespace(int cp) => cp is ' ' or '\t' or '\n' or '\r' || CharUnicodeInfo.GetUnicodeCategory(cp) == UnicodeCategory.SpaceSeparator;

    public static bool IsControl(int cp)
    {
        if (cp is '\t' or '\n' or '\r') return false;
        var c = CharUnicodeInfo.GetUnicodeCategory(cp);
        return c is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;
    }

    public static bool IsPunctuation(int cp)
    {
        if (cp is >= 33 and <= 47 or >= 58 and <= 64 or >= 91 and <= 96 or >= 123 and <= 126) return true;
        return CharUnicodeInfo.GetUnicodeCategory(cp) is UnicodeCategory.ConnectorPunctuation or UnicodeCategory.DashPunctuation
            or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation or UnicodeCategory.InitialQuotePunctuation
            or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
    }

    public static bool IsCjk(int cp) => cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
        or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
