using System.Text;
using Lathe.Data;

namespace Lathe.Cli.Fuzzing.Targets;

/// <summary>Mail as `data prepare --input DIR` reads it (<see cref="CorpusSource.Open"/> in auto mode: a file that
/// starts like a message is parsed by <see cref="MailMessage"/>; MIME parts, transfer encodings, charsets, HTML),
/// every document enumerated. Seeds: a SpamAssassin-style multipart message (quoted-printable text, base64 HTML, a
/// Latin-1 part) and an mbox file of two messages. A bad message is skipped with a warning, never an exception.</summary>
internal sealed class MailTarget : FuzzTarget
{
    public override string Name => "mail";

    const string Multipart =
        "Return-Path: <keeper@example.org>\r\nFrom: Keeper <keeper@example.org>\r\nTo: supply@example.org\r\n" +
        "Subject: =?utf-8?q?Oil_for_the_lamp_=E2=80=94_late_again?=\r\nDate: Mon, 2 Mar 2026 09:15:00 +0000\r\n" +
        "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"==b0und==\"\r\n\r\n" +
        "This is a multi-part message.\r\n--==b0und==\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
        "The oil ran short on the fourth night; caf=C3=A9 prices are up.=\r\nPlease send twelve cans.\r\n" +
        "--==b0und==\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
        "PGh0bWw+PGJvZHk+PHA+VGhlIG9pbCByYW4gc2hvcnQuPC9wPjxwPlNlbmQgPGI+dHdlbHZlPC9iPiBjYW5zLjwvcD48L2JvZHk+PC9odG1sPg==\r\n" +
        "--==b0und==\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
        "Na\u00efve visitors, stra\u00dfe.\r\n--==b0und==--\r\n";

    const string Mbox =
        "From keeper@example.org Mon Mar  2 09:15:00 2026\nFrom: keeper@example.org\nSubject: Fog\nContent-Type: text/plain\n\n" +
        "Fog for a week.\n>From the west, wind.\n\n" +
        "From supply@example.org Tue Mar  3 10:00:00 2026\nFrom: supply@example.org\nSubject: Re: Fog\n\nBoat on Friday.\n";

    protected override IReadOnlyList<FuzzSeed> MakeSeeds(string workDir) =>
    [
        Seed("multipart", "msg.eml", Encoding.Latin1.GetBytes(Multipart)),
        Seed("mbox", "inbox.mbox", Encoding.UTF8.GetBytes(Mbox)),
    ];

    static FuzzSeed Seed(string name, string file, byte[] bytes) => new(name, new Dictionary<string, byte[]> { [file] = bytes },
        new Dictionary<string, IReadOnlyList<Mutator>> { [file] = [.. LineMutators.All, .. MailMutators.All] });

    public override void Run(string caseDir, FuzzSeed seed)
    {
        var report = new SourceReport();
        foreach (var doc in CorpusSource.Open(caseDir, report)) _ = doc.Text.Length;
    }
}
