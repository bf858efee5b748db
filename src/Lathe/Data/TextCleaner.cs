using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Lathe.Tokenizers.Unicode;

namespace Lathe.Data;

/// <summary>Cleans one document by the rules of <see cref="CleaningOptions"/>, in this order: HTML to text,
/// NFC, control/invisible chars, mail quotes and signatures, contact scrubbing, white space, then the quality
/// filters. Returns the cleaned text or null when a filter rejects the document; every rule counts what it
/// did in the given <see cref="CleaningStats"/>. Thread-safe (no shared mutable state).</summary>
public sealed partial class TextCleaner(CleaningOptions options)
{
    /// <summary>The rules in force.</summary>
    public CleaningOptions Options { get; } = options;

    /// <summary>The cleaned text of <paramref name="text"/>, or null when it is rejected.</summary>
    public string? Clean(string text, CleaningStats stats)
    {
        stats.DocumentsIn++;
        stats.CharsIn += text.Length;
        if (Options.HtmlToText && HtmlText.LooksLikeHtml(text)) { text = HtmlText.ToText(text); stats.HtmlConverted++; }
        if (Options.Nfc && !Nfc.IsQuickNormalized(text))
        {
            // Our own NFC: string.Normalize is a no-op for non-ASCII under InvariantGlobalization.
            string composed = Nfc.Normalize(text);
            if (!ReferenceEquals(composed, text)) { text = composed; stats.NfcChanged++; }
        }
        if (Options.RemoveControlChars) text = RemoveControlChars(text, stats);
        if (Options.StripMailQuotes) text = StripMailQuotes(text, stats);
        if (Options.ScrubContacts) text = ScrubContacts(text, stats);
        if (Options.NormalizeWhitespace)
        {
            int before = text.Length;
            text = NormalizeWhitespace(text);
            stats.WhitespaceCharsRemoved += before - text.Length;
        }
        if (text.Length == 0 || string.IsNullOrWhiteSpace(text)) { stats.RejectedEmpty++; return null; }
        if (Options.QualityFilter && !PassesQuality(text, stats)) return null;
        stats.DocumentsOut++;
        stats.CharsOut += text.Length;
        return text;
    }

    static bool IsInvisible(char c)
    {
        if (c is '\n' or '\t' or '\r') return false;
        if (c is '\u200C' or '\u200D') return false; // ZWNJ / ZWJ shape scripts and emoji
        var category = char.GetUnicodeCategory(c);
        return category is UnicodeCategory.Control or UnicodeCategory.Format;
    }

    internal static string RemoveControlChars(string text, CleaningStats stats)
    {
        int first = -1;
        for (int i = 0; i < text.Length; i++) if (IsInvisible(text[i])) { first = i; break; }
        if (first < 0) return text;
        var output = new StringBuilder(text.Length);
        output.Append(text, 0, first);
        for (int i = first; i < text.Length; i++)
        {
            char c = text[i];
            if (IsInvisible(c)) stats.ControlCharsRemoved++;
            else output.Append(c);
        }
        return output.ToString();
    }

    internal static string NormalizeWhitespace(string text)
    {
        var output = new StringBuilder(text.Length);
        int newlines = 0;       // line breaks pending since the last visible char
        bool pendingSpace = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\r') { if (i + 1 < text.Length && text[i + 1] == '\n') continue; c = '\n'; }
            if (c is '\n' or '\u2028' or '\u2029' or '\u0085' or '\f' or '\v') { newlines++; pendingSpace = false; continue; }
            if (c == '\t' || char.IsWhiteSpace(c)) { pendingSpace = true; continue; }
            if (output.Length > 0)
            {
                if (newlines > 0) output.Append(newlines >= 2 ? "\n\n" : "\n");
                else if (pendingSpace) output.Append(' ');
            }
            newlines = 0;
            pendingSpace = false;
            output.Append(c);
        }
        return output.ToString();
    }

    // Signatures are short by convention (RFC 3676 §4.3 suggests at most 4 lines); list footers run longer.
    const int MaxSignatureLines = 15;

    internal static string StripMailQuotes(string text, CleaningStats stats)
    {
        if (text.IndexOf('>') < 0 && !text.Contains("\n--", StringComparison.Ordinal) && !text.Contains("wrote:", StringComparison.Ordinal)
            && !text.Contains("____", StringComparison.Ordinal))
            return text;
        var output = new StringBuilder(text.Length);
        int start = 0;
        while (start < text.Length)
        {
            int eol = text.IndexOf('\n', start);
            int end = eol < 0 ? text.Length : eol;
            var line = text.AsSpan(start, end - start).TrimEnd('\r');
            var trimmed = line.TrimStart();
            bool original = line.StartsWith("-----Original Message-----", StringComparison.OrdinalIgnoreCase);
            bool signature = line is "-- " or "--" || (trimmed.Length >= 40 && !trimmed.ContainsAnyExcept('_'));
            if (original || signature)
            {
                // Everything from here is the quoted original, a signature or a list footer: count its lines.
                // A signature delimiter or rule followed by more than MaxSignatureLines lines is not a signature
                // (a book or a long post using "--" or a rule as a separator), so it stays.
                int lines = 1;
                for (int i = end; i < text.Length; i++) if (text[i] == '\n' && i + 1 < text.Length) lines++;
                if (original || lines <= MaxSignatureLines + 1)
                {
                    stats.SignatureLinesRemoved += lines;
                    break;
                }
            }
            bool quoted = (trimmed.Length > 0 && trimmed[0] == '>')
                || (trimmed.StartsWith("On ", StringComparison.Ordinal) && trimmed.EndsWith("wrote:", StringComparison.Ordinal))
                || trimmed.EndsWith(" writes:", StringComparison.Ordinal) && trimmed.Length < 120;
            if (quoted) stats.QuotedLinesRemoved++;
            else output.Append(line).Append('\n');
            start = end + 1;
        }
        return output.ToString();
    }

    [GeneratedRegex(@"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")]
    private static partial Regex EmailPattern();

    // North American numbers ((555) 123-4567, 555-123-4567, +1 555 123 4567) and international numbers
    // written with "+" and separated groups. A heuristic: dates and version numbers do not match either form.
    [GeneratedRegex(@"(?<![\w+])(\+?1[ .\-]?)?(\(\d{3}\)|\d{3})[ .\-]\d{3}[ .\-]\d{4}(?!\w)|(?<![\w+])\+\d{1,3}([ .\-]\d{1,4}){2,5}(?!\w)")]
    private static partial Regex PhonePattern();

    internal static string ScrubContacts(string text, CleaningStats stats)
    {
        if (text.Contains('@'))
        {
            int n = 0;
            text = EmailPattern().Replace(text, _ => { n++; return "[email]"; });
            stats.EmailsScrubbed += n;
        }
        int p = 0;
        text = PhonePattern().Replace(text, _ => { p++; return "[phone]"; });
        stats.PhonesScrubbed += p;
        return text;
    }

    bool PassesQuality(string text, CleaningStats stats)
    {
        var o = Options;
        long words = 0, wordChars = 0, alphabeticWords = 0, symbols = 0;
        bool inWord = false, wordHasLetter = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsWhiteSpace(c))
            {
                if (inWord) { words++; if (wordHasLetter) alphabeticWords++; }
                inWord = false; wordHasLetter = false;
                continue;
            }
            inWord = true;
            wordChars++;
            if (char.IsLetter(c)) wordHasLetter = true;
            if (c == '#' || c == '\u2026') symbols++;
            else if (c == '.' && i + 2 < text.Length && text[i + 1] == '.' && text[i + 2] == '.') { symbols++; i += 2; wordChars += 2; }
        }
        if (inWord) { words++; if (wordHasLetter) alphabeticWords++; }

        if (words < o.MinWords) { stats.RejectedTooFewWords++; return false; }
        if (words > o.MaxWords) { stats.RejectedTooManyWords++; return false; }
        double mean = (double)wordChars / words;
        if (mean < o.MinMeanWordLength || mean > o.MaxMeanWordLength) { stats.RejectedMeanWordLength++; return false; }
        if ((double)symbols / words > o.MaxSymbolToWordRatio) { stats.RejectedSymbolRatio++; return false; }
        if ((double)alphabeticWords / words < o.MinAlphabeticWordFraction) { stats.RejectedAlphabetic++; return false; }

        var (lines, duplicates, punctuated) = LineCounts(text);
        if (lines > 0 && (double)duplicates / lines > o.MaxDuplicateLineFraction) { stats.RejectedDuplicateLines++; return false; }
        if (o.MinPunctuatedLineFraction > 0 && (lines == 0 || (double)punctuated / lines < o.MinPunctuatedLineFraction))
        { stats.RejectedPunctuation++; return false; }
        return true;
    }

    // Non-empty lines, those repeating an earlier line of the document, and those ending in terminal
    // punctuation (C4: '.', '!', '?', or a closing quote).
    static (int Lines, int Duplicates, int Punctuated) LineCounts(string text)
    {
        var seen = new HashSet<ulong>();
        int lines = 0, duplicates = 0, punctuated = 0, start = 0;
        while (start <= text.Length)
        {
            int eol = text.IndexOf('\n', start);
            int end = eol < 0 ? text.Length : eol;
            var line = text.AsSpan(start, end - start).Trim();
            if (line.Length > 0)
            {
                lines++;
                if (!seen.Add(Hash64.Of(line))) duplicates++;
                if (line[^1] is '.' or '!' or '?' or '"' or '\u201D' or '\'') punctuated++;
            }
            if (eol < 0) break;
            start = eol + 1;
        }
        return (lines, duplicates, punctuated);
    }
}
