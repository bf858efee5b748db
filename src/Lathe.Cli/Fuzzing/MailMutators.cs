using System.Text;
using System.Text.RegularExpressions;
using Lathe.Tensors;

namespace Lathe.Cli.Fuzzing;

/// <summary>Structure-aware damage to a mail message: its MIME parameters (boundary, charset, transfer encoding,
/// content type) replaced by wrong or hostile values, encoded words broken, the header/body separator removed.</summary>
internal static partial class MailMutators
{
    static Mutator Replace(string name, Regex pattern, string[] values) => new(name, (b, r) =>
    {
        string text = Encoding.Latin1.GetString(b);
        var matches = pattern.Matches(text);
        if (matches.Count == 0) return b;
        var m = matches[r.NextInt(matches.Count)];
        var g = m.Groups[1];
        return Encoding.Latin1.GetBytes(text[..g.Index] + r.Pick(values) + text[(g.Index + g.Length)..]);
    });

    public static readonly Mutator Boundary = Replace("mail-boundary", BoundaryPattern(), ["", "\"\"", "--", "\"==b0und==\"; boundary=x", new string('b', 2000), "\"\u00ff\u00fe\""]);
    public static readonly Mutator Charset = Replace("mail-charset", CharsetPattern(), ["", "utf-7", "x-unknown", "utf-16", "\"\"", "iso-2022-jp", "cp1252", "utf-32"]);
    public static readonly Mutator TransferEncoding = Replace("mail-transfer-encoding", EncodingPattern(), ["base64", "quoted-printable", "x-uuencode", "", "7bit", "binary"]);
    public static readonly Mutator ContentType = Replace("mail-content-type", TypePattern(), ["multipart/mixed", "message/rfc822", "text/html", "application/octet-stream", "multipart/alternative; boundary=", ""]);
    public static readonly Mutator EncodedWord = Replace("mail-encoded-word", EncodedWordPattern(), ["=?utf-8?b?////?=", "=?x?q?=ZZ?=", "=?utf-8?q?", "=??=", "=?utf-8?b?" + new string('A', 5000) + "?="]);

    public static readonly Mutator NoSeparator = new("mail-no-separator", (b, r) =>
    {
        int at = b.AsSpan().IndexOf("\n\r\n"u8) is var crlf and >= 0 ? crlf : b.AsSpan().IndexOf("\n\n"u8);
        return at < 0 ? b : [.. b.AsSpan(0, at + 1), .. b.AsSpan(at + (b[at + 1] == '\r' ? 3 : 2))];
    });

    [GeneratedRegex("boundary=(\"[^\"]*\"|[^;\\r\\n]*)", RegexOptions.IgnoreCase)] private static partial Regex BoundaryPattern();
    [GeneratedRegex("charset=([^;\\r\\n]*)", RegexOptions.IgnoreCase)] private static partial Regex CharsetPattern();
    [GeneratedRegex("Content-Transfer-Encoding: ([^\\r\\n]*)", RegexOptions.IgnoreCase)] private static partial Regex EncodingPattern();
    [GeneratedRegex("Content-Type: ([^;\\r\\n]*)", RegexOptions.IgnoreCase)] private static partial Regex TypePattern();
    [GeneratedRegex("(=\\?[^?]*\\?[qQbB]\\?[^?]*\\?=)")] private static partial Regex EncodedWordPattern();

    public static readonly IReadOnlyList<Mutator> All = [Boundary, Charset, TransferEncoding, ContentType, EncodedWord, NoSeparator];
}
