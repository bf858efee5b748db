using System.Text;
using Lathe.Data;

namespace Lathe.Tests.Data;

public class MailTests
{
    static string? Text(string message, SourceReport? report = null) =>
        MailMessage.ToText(Encoding.Latin1.GetBytes(message.Replace("\n", "\r\n")), report ?? new SourceReport(), "test");

    [Fact]
    public void PlainMessageHasSubjectAndBody()
    {
        string m = "From: a@example.com\nSubject: Hello\n there\nTo: b@example.com\n\nBody line one.\nLine two.\n";
        Assert.Equal("Hello there\n\nBody line one.\r\nLine two.\r\n", Text(m));
    }

    [Fact]
    public void AlternativePrefersPlainTextAndDecodesQuotedPrintableUtf8()
    {
        string m = """
            Subject: =?utf-8?B?Q2Fmw6k=?= =?iso-8859-1?Q?_cr=E8me?=
            MIME-Version: 1.0
            Content-Type: multipart/alternative; boundary="XYZ"

            preamble
            --XYZ
            Content-Type: text/plain; charset=utf-8
            Content-Transfer-Encoding: quoted-printable

            Caf=C3=A9 au lait, a long line that is =
            softly broken.
            --XYZ
            Content-Type: text/html; charset=utf-8

            <p>HTML version</p>
            --XYZ--
            epilogue
            """;
        Assert.Equal("Café crème\n\nCafé au lait, a long line that is softly broken.", Text(m));
    }

    [Fact]
    public void HtmlOnlyBase64Windows1252AndAttachmentsSkipped()
    {
        // "Smart “quotes” – €5" in windows-1252, base64 encoded.
        byte[] cp1252 = [(byte)'<', (byte)'b', (byte)'>', (byte)'S', (byte)'m', (byte)'a', (byte)'r', (byte)'t', (byte)'<', (byte)'/', (byte)'b', (byte)'>',
            (byte)' ', 0x93, (byte)'q', 0x94, (byte)' ', 0x96, (byte)' ', 0x80, (byte)'5', (byte)'<', (byte)'b', (byte)'r', (byte)'>', (byte)'x', (byte)'&', (byte)'a', (byte)'m', (byte)'p', (byte)';', (byte)'y',
            (byte)'<', (byte)'s', (byte)'c', (byte)'r', (byte)'i', (byte)'p', (byte)'t', (byte)'>', (byte)'z', (byte)'<', (byte)'/', (byte)'s', (byte)'c', (byte)'r', (byte)'i', (byte)'p', (byte)'t', (byte)'>'];
        string b64 = Convert.ToBase64String(cp1252);
        string m = $"""
            Subject: s
            Content-Type: multipart/mixed; boundary=b1

            --b1
            Content-Type: text/html; charset="windows-1252"
            Content-Transfer-Encoding: base64

            {b64[..20]}
            {b64[20..]}
            --b1
            Content-Type: application/octet-stream; name="x.exe"
            Content-Transfer-Encoding: base64

            TVqQAAMAAAAEAAAA
            --b1
            Content-Type: text/plain
            Content-Disposition: attachment; filename="notes.txt"

            attached notes
            --b1--
            """;
        var report = new SourceReport();
        Assert.Equal("s\n\nSmart \u201Cq\u201D \u2013 \u20AC5\nx&y", Text(m, report));
        Assert.Equal(2, report.AttachmentsSkipped);
    }

    [Fact]
    public void Iso88591AndUsAsciiAsWindows1252()
    {
        string m = "Subject: t\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nna=EFve fa=E7ade\n";
        Assert.Equal("t\n\nnaïve façade\r\n", Text(m));
    }

    [Fact]
    public void NestedMultipartAndTruncatedPartTolerated()
    {
        string m = """
            Subject: nest
            Content-Type: multipart/mixed; boundary="outer"

            --outer
            Content-Type: multipart/alternative; boundary="inner"

            --inner
            Content-Type: text/plain

            inner text
            --inner--
            --outer
            Content-Type: text/plain
            Content-Transfer-Encoding: base64

            dHJ1bmNhdGVkIHBhcnQgaGVyZQ==
            --outer
            Content-Type: text/plain

            cut off in the mid
            """;
        var report = new SourceReport();
        Assert.Equal("nest\n\ninner text\n\ntruncated part here\n\ncut off in the mid", Text(m, report)!.Replace("\r", ""));
        Assert.Equal(1, report.TruncatedParts);
    }

    [Fact]
    public void SpamAssassinFolderReadsWithoutErrors()
    {
        string dir = Path.Combine(Peers.Datasets, "spam-assassin", "data", "hard-ham-1");
        var report = new SourceReport();
        var docs = CorpusSource.Open(dir, report, SourceFormat.Auto, "*.txt").ToList();
        int files = Directory.GetFiles(dir, "*.txt").Length;
        Assert.True(files > 200);
        Assert.Equal(files, report.FilesRead);
        Assert.True(docs.Count >= files * 9 / 10, $"{docs.Count} of {files}");
        // Mail bodies, not raw messages: no header block and no raw MIME delimiters survive.
        Assert.All(docs, d => Assert.DoesNotContain("\nReceived: from", d.Text));
        Assert.True(docs.Count(d => d.Text.Contains("Content-Transfer-Encoding:", StringComparison.OrdinalIgnoreCase)) < docs.Count / 50);
    }
}

public class MailPeerTests
{
    // Python's str.split() white space: char.IsWhiteSpace plus the information separators U+001C..U+001F.
    static string Collapse(string text)
    {
        var output = new StringBuilder(text.Length);
        bool space = false;
        foreach (char c in text)
        {
            if (char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F') { space = output.Length > 0; continue; }
            if (space) { output.Append(' '); space = false; }
            output.Append(c);
        }
        return output.ToString();
    }

    [Fact]
    public void BodiesMatchPythonEmailPackage()
    {
        // Oracle: Python's email package on the same SpamAssassin files (make_mail_fixture.py).
        string data = Path.Combine(Peers.Datasets, "spam-assassin", "data");
        int checkedCount = 0;
        var mismatches = new List<string>();
        foreach (var line in File.ReadLines(Path.Combine(Peers.RepoRoot, "tests", "Lathe.Tests", "Data", "mail_fixture.txt")))
        {
            if (line.StartsWith('#')) continue;
            var parts = line.Split('\t');
            byte[] bytes = File.ReadAllBytes(Path.Combine(data, parts[0]));
            string body = Collapse(MailMessage.BodyText(bytes, new SourceReport()));
            string hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(body)));
            if (hash != parts[1]) mismatches.Add(parts[0]);
            checkedCount++;
        }
        Assert.True(checkedCount > 1000);
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {checkedCount} differ: {string.Join(", ", mismatches.Take(10))}");
    }
}
