namespace Lathe.Data;

/// <summary>What cleaning did: documents in/out, chars and lines removed per rule, rejections per filter.
/// One instance per worker thread; <see cref="Add"/> merges them.</summary>
public sealed class CleaningStats
{
    public long DocumentsIn, DocumentsOut, CharsIn, CharsOut;
    public long NfcChanged, ControlCharsRemoved, WhitespaceCharsRemoved, QuotedLinesRemoved, SignatureLinesRemoved;
    public long HtmlConverted, EmailsScrubbed, PhonesScrubbed;
    public long RejectedEmpty, RejectedTooFewWords, RejectedTooManyWords, RejectedMeanWordLength, RejectedSymbolRatio;
    public long RejectedAlphabetic, RejectedDuplicateLines, RejectedPunctuation;

    /// <summary>Adds <paramref name="other"/>'s counts to this one.</summary>
    public void Add(CleaningStats other)
    {
        DocumentsIn += other.DocumentsIn; DocumentsOut += other.DocumentsOut; CharsIn += other.CharsIn; CharsOut += other.CharsOut;
        NfcChanged += other.NfcChanged; ControlCharsRemoved += other.ControlCharsRemoved;
        WhitespaceCharsRemoved += other.WhitespaceCharsRemoved; QuotedLinesRemoved += other.QuotedLinesRemoved;
        SignatureLinesRemoved += other.SignatureLinesRemoved; HtmlConverted += other.HtmlConverted;
        EmailsScrubbed += other.EmailsScrubbed; PhonesScrubbed += other.PhonesScrubbed;
        RejectedEmpty += other.RejectedEmpty; RejectedTooFewWords += other.RejectedTooFewWords;
        RejectedTooManyWords += other.RejectedTooManyWords; RejectedMeanWordLength += other.RejectedMeanWordLength;
        RejectedSymbolRatio += other.RejectedSymbolRatio; RejectedAlphabetic += other.RejectedAlphabetic;
        RejectedDuplicateLines += other.RejectedDuplicateLines; RejectedPunctuation += other.RejectedPunctuation;
    }

    /// <summary>Counts in <see cref="Fields"/>' order (another rank's, in a distributed `data prepare`).</summary>
    public static CleaningStats FromValues(ReadOnlySpan<long> v) => new()
    {
        DocumentsIn = v[0], DocumentsOut = v[1], CharsIn = v[2], CharsOut = v[3], NfcChanged = v[4], ControlCharsRemoved = v[5],
        WhitespaceCharsRemoved = v[6], QuotedLinesRemoved = v[7], SignatureLinesRemoved = v[8], HtmlConverted = v[9],
        EmailsScrubbed = v[10], PhonesScrubbed = v[11], RejectedEmpty = v[12], RejectedTooFewWords = v[13],
        RejectedTooManyWords = v[14], RejectedMeanWordLength = v[15], RejectedSymbolRatio = v[16], RejectedAlphabetic = v[17],
        RejectedDuplicateLines = v[18], RejectedPunctuation = v[19],
    };

    /// <summary>The counts by name, in a fixed order (for stats.json and --json output).</summary>
    public IEnumerable<(string Name, long Value)> Fields()
    {
        yield return ("documents_in", DocumentsIn); yield return ("documents_out", DocumentsOut);
        yield return ("chars_in", CharsIn); yield return ("chars_out", CharsOut);
        yield return ("nfc_changed", NfcChanged); yield return ("control_chars_removed", ControlCharsRemoved);
        yield return ("whitespace_chars_removed", WhitespaceCharsRemoved); yield return ("quoted_lines_removed", QuotedLinesRemoved);
        yield return ("signature_lines_removed", SignatureLinesRemoved); yield return ("html_converted", HtmlConverted);
        yield return ("emails_scrubbed", EmailsScrubbed); yield return ("phones_scrubbed", PhonesScrubbed);
        yield return ("rejected_empty", RejectedEmpty); yield return ("rejected_too_few_words", RejectedTooFewWords);
        yield return ("rejected_too_many_words", RejectedTooManyWords); yield return ("rejected_mean_word_length", RejectedMeanWordLength);
        yield return ("rejected_symbol_ratio", RejectedSymbolRatio); yield return ("rejected_alphabetic", RejectedAlphabetic);
        yield return ("rejected_duplicate_lines", RejectedDuplicateLines); yield return ("rejected_punctuation", RejectedPunctuation);
    }
}
