using System.Collections;
using System.Text;

namespace Lathe.Data;

/// <summary>Plain text files (optionally .gz) as documents, streamed: one file is one document, except that
/// a file longer than <see cref="MaxDocumentChars"/> is cut into pieces (at a blank line, else a line end,
/// else a space) so that no document — and no buffer — grows with the file. Files with a NUL byte in
/// their first 8 KiB are binary: skipped with a warning. Invalid UTF-8 is replaced by U+FFFD and counted.</summary>
public sealed class TextSource(IReadOnlyList<string> files, SourceReport report, int maxDocumentChars = TextSource.DefaultMaxDocumentChars)
    : IEnumerable<Document>
{
    /// <summary>16 Ki chars ≈ 3 k English words: far below the Gopher bound of 100 k words, and small enough that a
    /// single book (the bundled corpus) still gives dozens of documents for the train/val split by document hash.</summary>
    public const int DefaultMaxDocumentChars = 16 * 1024;

    const int BinarySniffBytes = 8192;

    /// <summary>The longest document this source yields.</summary>
    public int MaxDocumentChars { get; } = maxDocumentChars > 0 ? maxDocumentChars : throw new ArgumentOutOfRangeException(nameof(maxDocumentChars));

    public IEnumerator<Document> GetEnumerator()
    {
        foreach (var path in files)
        {
            using var stream = CorpusFiles.Open(path);
            foreach (var doc in Read(stream, path, report, MaxDocumentChars)) yield return doc;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Streams the documents of one text stream named <paramref name="id"/>.</summary>
    public static IEnumerable<Document> Read(Stream stream, string id, SourceReport report, int maxDocumentChars = DefaultMaxDocumentChars)
    {
        report.FilesRead++;
        var fallback = new CountingDecoderFallback();
        var decoder = fallback.Utf8().GetDecoder();
        var bytes = new byte[1 << 16];
        var chars = new char[(1 << 16) + 2];
        var text = new StringBuilder();
        int piece = 0;
        long bytesRead = 0;

        int n = stream.ReadAtLeast(bytes, BinarySniffBytes, throwOnEndOfStream: false);
        if (bytes.AsSpan(0, Math.Min(n, BinarySniffBytes)).IndexOf((byte)0) >= 0)
        {
            report.BinaryFilesSkipped++;
            report.Warn($"data: {id}: binary file (NUL byte near the start), skipped");
            yield break;
        }
        if (n == 0)
        {
            report.EmptyFilesSkipped++;
            yield break;
        }
        int start = n >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0; // UTF-8 BOM
        while (n > 0)
        {
            bytesRead += n;
            int c = decoder.GetChars(bytes, start, n - start, chars, 0, flush: false);
            text.Append(chars, 0, c);
            start = 0;
            while (text.Length >= maxDocumentChars)
            {
                int cut = FindCut(text, maxDocumentChars);
                yield return new Document(piece == 0 ? id : $"{id}#{piece}", text.ToString(0, cut));
                piece++;
                text.Remove(0, cut);
            }
            n = stream.Read(bytes, 0, bytes.Length);
        }
        int last = decoder.GetChars(bytes, 0, 0, chars, 0, flush: true);
        text.Append(chars, 0, last);
        report.BytesRead += bytesRead;
        report.InvalidSequencesReplaced += fallback.Count;
        if (fallback.Count > 0) report.Warn($"data: {id}: {fallback.Count} invalid UTF-8 sequence(s) replaced by U+FFFD");
        while (text.Length > 0)
        {
            int cut = text.Length > maxDocumentChars ? FindCut(text, maxDocumentChars) : text.Length;
            yield return new Document(piece == 0 ? id : $"{id}#{piece}", text.ToString(0, cut));
            piece++;
            text.Remove(0, cut);
        }
    }

    // Where to end a piece of at most `max` chars: after the last blank line in its second half, else after
    // its last line end, else after its last space, else at `max` (never between the halves of a surrogate pair).
    static int FindCut(StringBuilder text, int max)
    {
        int floor = max / 2;
        int lineEnd = -1, space = -1;
        for (int i = max - 1; i >= floor; i--)
        {
            char ch = text[i];
            if (ch == '\n')
            {
                if (i > 0 && text[i - 1] == '\n') return i + 1;
                if (lineEnd < 0) lineEnd = i + 1;
            }
            else if (ch == ' ' && space < 0) space = i + 1;
        }
        if (lineEnd > 0) return lineEnd;
        if (space > 0) return space;
        return char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
    }
}
