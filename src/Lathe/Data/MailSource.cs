using System.Collections;

namespace Lathe.Data;

/// <summary>A folder of RFC 822 messages, one message per file (maildir / SpamAssassin style), as documents:
/// each message's Subject and readable body (<see cref="MailMessage"/>). Messages are read whole; one larger
/// than <see cref="MaxMessageBytes"/> is read only up to that size and its multiparts count as truncated.</summary>
public sealed class MailSource(IReadOnlyList<string> files, SourceReport report) : IEnumerable<Document>
{
    /// <summary>32 MiB: far above any text mail; bounds memory against a stray huge file.</summary>
    public const int MaxMessageBytes = 32 << 20;

    public IEnumerator<Document> GetEnumerator()
    {
        foreach (var path in files)
        {
            report.FilesRead++;
            byte[] bytes;
            using (var s = CorpusFiles.Open(path))
            {
                var buffer = new byte[(int)Math.Min(MaxMessageBytes, s.CanSeek ? s.Length : MaxMessageBytes)];
                int n = s.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
                bytes = n == buffer.Length ? buffer : buffer.AsSpan(0, n).ToArray();
            }
            report.BytesRead += bytes.Length;
            if (bytes.AsSpan(0, Math.Min(bytes.Length, 8192)).IndexOf((byte)0) >= 0)
            {
                report.BinaryFilesSkipped++;
                report.Warn($"data: {path}: binary file (NUL byte near the start), skipped");
                continue;
            }
            string? text = MailMessage.ToText(bytes, report, path);
            if (string.IsNullOrWhiteSpace(text)) { report.EmptyFilesSkipped++; continue; }
            yield return new Document(path, text);
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
