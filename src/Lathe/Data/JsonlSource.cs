using System.Collections;
using System.Text.Json;

namespace Lathe.Data;

/// <summary>JSON Lines files (optionally .gz): each non-blank line is an object whose string field
/// <see cref="Field"/> (default "text") is one document. A line that is not such an object is an error
/// naming the file and line, since a silently skipped line would be a silently wrong corpus.</summary>
public sealed class JsonlSource(IReadOnlyList<string> files, SourceReport report, string field = "text") : IEnumerable<Document>
{
    /// <summary>The field holding each document's text.</summary>
    public string Field { get; } = field;

    public IEnumerator<Document> GetEnumerator()
    {
        foreach (var path in files)
        {
            report.FilesRead++;
            var fallback = new CountingDecoderFallback();
            using var stream = CorpusFiles.Open(path);
            using var reader = new StreamReader(stream, fallback.Utf8(), detectEncodingFromByteOrderMarks: true);
            long line = 0;
            while (reader.ReadLine() is { } text)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                string value;
                try
                {
                    using var json = JsonDocument.Parse(text);
                    if (json.RootElement.ValueKind != JsonValueKind.Object)
                        throw new InvalidDataException($"data: {path}:{line}: expected a JSON object");
                    if (!json.RootElement.TryGetProperty(Field, out var v) || v.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"data: {path}:{line}: no string field \"{Field}\"");
                    value = v.GetString()!;
                }
                catch (JsonException e)
                {
                    throw new InvalidDataException($"data: {path}:{line}: invalid JSON ({e.Message.Split('.')[0]})");
                }
                yield return new Document($"{path}:{line}", value);
            }
            report.BytesRead += new FileInfo(path).Length;
            report.InvalidSequencesReplaced += fallback.Count;
            if (fallback.Count > 0) report.Warn($"data: {path}: {fallback.Count} invalid UTF-8 sequence(s) replaced by U+FFFD");
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
