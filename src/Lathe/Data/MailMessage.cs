using System.Text;

namespace Lathe.Data;

/// <summary>The readable text of one RFC 822 / RFC 5322 message: its Subject and the text of its body,
/// walking MIME multiparts (RFC 2046) recursively, undoing quoted-printable and base64 transfer encodings
/// (RFC 2045 §6.7, §6.8), decoding charsets, converting text/html to text, and skipping attachments.
/// A multipart that ends without its closing boundary is read to the end of the message and counted.</summary>
public static class MailMessage
{
    static MailMessage() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    const int MaxDepth = 16; // nested multiparts deeper than this are malformed or hostile

    /// <summary>The text of the message in <paramref name="bytes"/> ("Subject\n\nbody"), or null when it has none.</summary>
    public static string? ToText(ReadOnlySpan<byte> bytes, SourceReport report, string id)
    {
        string headers = SplitHeaders(bytes, out var body);
        var text = new StringBuilder();
        string? subject = Header(headers, "subject");
        if (!string.IsNullOrWhiteSpace(subject)) text.Append(EncodedWords.Decode(subject).Trim()).Append("\n\n");
        int before = text.Length;
        AppendEntity(headers, body, text, report, id, 0);
        if (text.Length == 0) return null;
        return text.Length == before ? text.ToString().TrimEnd() : text.ToString();
    }

    /// <summary>The body text alone (no Subject), for comparing with another MIME reader.</summary>
    internal static string BodyText(ReadOnlySpan<byte> bytes, SourceReport report)
    {
        string headers = SplitHeaders(bytes, out var body);
        var text = new StringBuilder();
        AppendEntity(headers, body, text, report, "", 0);
        return text.ToString();
    }

    // One MIME entity: a leaf part's decoded text, or the parts of a multipart.
    static void AppendEntity(string headers, ReadOnlySpan<byte> body, StringBuilder text, SourceReport report, string id, int depth)
    {
        var type = ContentType.Parse(Header(headers, "content-type"));
        string disposition = Header(headers, "content-disposition") ?? "";
        if (disposition.TrimStart().StartsWith("attachment", StringComparison.OrdinalIgnoreCase))
        {
            report.AttachmentsSkipped++;
            return;
        }
        if (type.MediaType.StartsWith("multipart/", StringComparison.Ordinal) && type.Boundary is { Length: > 0 } boundary && depth < MaxDepth)
        {
            var parts = SplitMultipart(body, boundary, out bool closed);
            if (!closed)
            {
                report.TruncatedParts++;
                report.Warn($"data: {id}: multipart without its closing boundary (truncated?), read to the end");
            }
            if (type.MediaType == "multipart/alternative")
            {
                // The same content in several forms, simplest first (RFC 2046 §5.1.4): take the plain text if
                // there is one, else the first HTML.
                int chosen = -1;
                for (int pass = 0; pass < 2 && chosen < 0; pass++)
                    for (int p = 0; p < parts.Count && chosen < 0; p++)
                    {
                        string h = SplitHeaders(body.Slice(parts[p].Start, parts[p].Length), out _);
                        string media = ContentType.Parse(Header(h, "content-type")).MediaType;
                        if (media == (pass == 0 ? "text/plain" : "text/html") || (pass == 1 && media.StartsWith("multipart/", StringComparison.Ordinal))) chosen = p;
                    }
                if (chosen >= 0)
                {
                    string h = SplitHeaders(body.Slice(parts[chosen].Start, parts[chosen].Length), out var b);
                    AppendEntity(h, b, text, report, id, depth + 1);
                }
                return;
            }
            foreach (var (start, length) in parts)
            {
                string h = SplitHeaders(body.Slice(start, length), out var b);
                AppendEntity(h, b, text, report, id, depth + 1);
            }
            return;
        }
        if (type.MediaType == "message/rfc822" && depth < MaxDepth)
        {
            string h = SplitHeaders(body, out var b);
            string? subject = Header(h, "subject");
            if (!string.IsNullOrWhiteSpace(subject)) Separate(text).Append(EncodedWords.Decode(subject).Trim()).Append("\n\n");
            AppendEntity(h, b, text, report, id, depth + 1);
            return;
        }
        if (type.MediaType is not ("text/plain" or "text/html"))
        {
            report.AttachmentsSkipped++;
            return;
        }
        byte[] decoded = TransferEncoding.Decode(body, Header(headers, "content-transfer-encoding"));
        var fallback = new CountingDecoderFallback();
        string content = Charsets.Get(type.Charset, fallback).GetString(decoded);
        report.InvalidSequencesReplaced += fallback.Count;
        if (type.MediaType == "text/html") content = HtmlText.ToText(content);
        if (content.Length > 0) Separate(text).Append(content);
    }

    static StringBuilder Separate(StringBuilder text)
    {
        if (text.Length > 0 && !(text.Length >= 2 && text[^1] == '\n' && text[^2] == '\n'))
            text.Append(text[^1] == '\n' ? "\n" : "\n\n");
        return text;
    }

    /// <summary>Splits an entity at its first empty line into unfolded header text (Latin-1, as RFC 5322
    /// headers are ASCII) and the body bytes. With no empty line, everything is header.</summary>
    internal static string SplitHeaders(ReadOnlySpan<byte> bytes, out ReadOnlySpan<byte> body)
    {
        int end = -1, bodyStart = bytes.Length;
        if (bytes.Length > 0 && (bytes[0] == (byte)'\n' || (bytes.Length > 1 && bytes[0] == (byte)'\r' && bytes[1] == (byte)'\n')))
        {
            body = bytes[(bytes[0] == (byte)'\n' ? 1 : 2)..];
            return "";
        }
        for (int i = 0; i + 1 < bytes.Length; i++)
        {
            if (bytes[i] != (byte)'\n') continue;
            if (bytes[i + 1] == (byte)'\n') { end = i; bodyStart = i + 2; break; }
            if (bytes[i + 1] == (byte)'\r' && i + 2 < bytes.Length && bytes[i + 2] == (byte)'\n') { end = i; bodyStart = i + 3; break; }
        }
        if (end < 0) end = bytes.Length;
        string headers = Encoding.Latin1.GetString(bytes[..end]);
        // Unfold (RFC 5322 §2.2.3): a line break followed by white space continues the previous field.
        headers = headers.Replace("\r\n", "\n").Replace("\n ", " ").Replace("\n\t", " ");
        body = bytes[bodyStart..];
        return headers;
    }

    /// <summary>The value of the first header field named <paramref name="name"/> (lower case), or null.</summary>
    internal static string? Header(string headers, string name)
    {
        int i = 0;
        while (i < headers.Length)
        {
            int eol = headers.IndexOf('\n', i);
            if (eol < 0) eol = headers.Length;
            int colon = headers.IndexOf(':', i, eol - i);
            if (colon > i && colon - i == name.Length && string.Compare(headers, i, name, 0, name.Length, StringComparison.OrdinalIgnoreCase) == 0)
                return headers[(colon + 1)..eol].Trim();
            i = eol + 1;
        }
        return null;
    }

    // The body parts between "--boundary" lines (RFC 2046 §5.1.1); the preamble and epilogue are dropped.
    static List<(int Start, int Length)> SplitMultipart(ReadOnlySpan<byte> body, string boundary, out bool closed)
    {
        var parts = new List<(int, int)>();
        byte[] delimiter = Encoding.Latin1.GetBytes("--" + boundary);
        closed = false;
        int partStart = -1, lineStart = 0;
        while (lineStart < body.Length)
        {
            int eol = body[lineStart..].IndexOf((byte)'\n');
            int lineEnd = eol < 0 ? body.Length : lineStart + eol;
            var line = body[lineStart..lineEnd];
            if (line.StartsWith(delimiter))
            {
                var rest = line[delimiter.Length..];
                bool isClose = rest.StartsWith("--"u8);
                if (isClose || rest.Trim(" \t\r"u8).IsEmpty)
                {
                    if (partStart >= 0)
                    {
                        // The line break before a delimiter belongs to the delimiter.
                        int end = lineStart;
                        if (end > partStart && body[end - 1] == (byte)'\n') end--;
                        if (end > partStart && body[end - 1] == (byte)'\r') end--;
                        parts.Add((partStart, end - partStart));
                    }
                    if (isClose) { closed = true; return parts; }
                    partStart = lineEnd + 1 > body.Length ? body.Length : lineEnd + 1;
                }
            }
            lineStart = lineEnd + 1;
        }
        if (partStart >= 0 && partStart < body.Length) parts.Add((partStart, body.Length - partStart));
        return parts;
    }
}
