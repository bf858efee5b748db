using System.IO.Compression;
using System.Text;
using Lathe.Data;

namespace Lathe.Tests.Data;

public class SourceTests
{
    [Fact]
    public void BundledCorpusIsEveryChapterInOrder()
    {
        // Oracle: the chapter files of the npm dataset, concatenated with a blank line after each.
        string dir = Path.Combine(Peers.Datasets, "moby-dick", "data");
        var expected = new StringBuilder();
        for (int i = 1; File.Exists(Path.Combine(dir, $"chapter_{i}.txt")); i++)
            expected.Append(File.ReadAllText(Path.Combine(dir, $"chapter_{i}.txt"))).Append("\n\n");
        Assert.True(expected.Length > 1_000_000);

        var report = new SourceReport();
        var docs = CorpusSource.Open(Path.Combine(Peers.RepoRoot, "data", "corpus", "moby-dick.txt.gz"), report).ToList();
        Assert.True(docs.Count >= 4);
        Assert.All(docs, d => Assert.True(d.Text.Length <= TextSource.DefaultMaxDocumentChars));
        Assert.Equal(expected.ToString(), string.Concat(docs.Select(d => d.Text)));
        Assert.StartsWith("CHAPTER 1. Loomings.", docs[0].Text);
        Assert.Equal(0, report.InvalidSequencesReplaced);
        // Pieces end at paragraph breaks when one is near.
        Assert.All(docs.Take(docs.Count - 1), d => Assert.EndsWith("\n\n", d.Text));
    }

    [Fact]
    public void FolderReadsFilesInOrderAndGzTransparently()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("b.txt"), "second");
        using (var gz = new GZipStream(File.Create(tmp.File("a.txt.gz")), CompressionLevel.SmallestSize))
            gz.Write("first é"u8);
        Directory.CreateDirectory(tmp.File("c"));
        File.WriteAllText(tmp.File("c/d.txt"), "third");
        var docs = CorpusSource.Open(tmp.Path, new SourceReport(), SourceFormat.Text).Select(d => d.Text).ToList();
        Assert.Equal(["first é", "second", "third"], docs);
    }

    [Fact]
    public void BinaryFileIsSkippedWithWarning()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("x.bin"), [0x7F, (byte)'E', (byte)'L', (byte)'F', 0, 0, 1, 2]);
        File.WriteAllText(tmp.File("y.txt"), "text");
        var warnings = new List<string>();
        var report = new SourceReport { Warning = warnings.Add };
        var docs = CorpusSource.Open(tmp.Path, report).ToList();
        Assert.Single(docs);
        Assert.Equal(1, report.BinaryFilesSkipped);
        Assert.Contains(warnings, w => w.Contains("x.bin") && w.Contains("binary"));
    }

    [Fact]
    public void InvalidUtf8IsReplacedAndCounted()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("bad.txt"), [(byte)'a', 0xFF, (byte)'b', 0xC3, (byte)'c', 0xE2, 0x82]); // bad byte, cut 2-byte, cut 3-byte at end
        var report = new SourceReport();
        var doc = Assert.Single(CorpusSource.Open(tmp.File("bad.txt"), report, SourceFormat.Text));
        Assert.Equal("a\uFFFDb\uFFFDc\uFFFD", doc.Text);
        Assert.Equal(3, report.InvalidSequencesReplaced);
    }

    [Fact]
    public void EmptyFileYieldsNothing()
    {
        using var tmp = new TempDir();
        File.WriteAllBytes(tmp.File("empty.txt"), []);
        var report = new SourceReport();
        Assert.Empty(CorpusSource.Open(tmp.File("empty.txt"), report));
        Assert.Equal(1, report.EmptyFilesSkipped);
    }

    [Fact]
    public void JsonlReadsTheTextFieldAndNamesBadLines()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("c.jsonl"), "{\"text\":\"one\\nline\",\"id\":1}\n\n{\"text\":\"two\"}\n");
        Assert.Equal(["one\nline", "two"], CorpusSource.Open(tmp.File("c.jsonl"), new SourceReport()).Select(d => d.Text).ToList());
        File.WriteAllText(tmp.File("d.jsonl"), "{\"text\":\"ok\"}\n{\"body\":\"no\"}\n");
        var e = Assert.Throws<InvalidDataException>(() => CorpusSource.Open(tmp.File("d.jsonl"), new SourceReport()).ToList());
        Assert.Contains("d.jsonl:2", e.Message);
        Assert.Contains("\"text\"", e.Message);
    }
}

/// <summary>Runs alone: it samples the GC heap, which other tests would disturb.</summary>
[CollectionDefinition(nameof(MemoryBoundCollection), DisableParallelization = true)]
public class MemoryBoundCollection;

[Collection(nameof(MemoryBoundCollection))]
public class HugeLineTests
{
    // A 100 MB stream of one line, generated on the fly: byte i is a function of i, so every piece can be
    // checked against the generator without holding the input anywhere.
    sealed class OneLineStream(long length) : Stream
    {
        long position;
        public static byte ByteAt(long i) => i % 7 == 6 ? (byte)' ' : (byte)('a' + (int)(i * 31 % 26));
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - position);
            for (int k = 0; k < n; k++) buffer[offset + k] = ByteAt(position + k);
            position += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public void HundredMegabyteLineStreamsInBoundedMemory()
    {
        const long Length = 100L << 20;
        GC.Collect();
        long baseline = GC.GetTotalMemory(true), peak = 0, offset = 0;
        int pieces = 0;
        foreach (var doc in TextSource.Read(new OneLineStream(Length), "huge", new SourceReport()))
        {
            Assert.True(doc.Text.Length <= TextSource.DefaultMaxDocumentChars);
            for (int i = 0; i < doc.Text.Length; i += 997) Assert.Equal((char)OneLineStream.ByteAt(offset + i), doc.Text[i]);
            if (offset + doc.Text.Length < Length) Assert.Equal(' ', doc.Text[^1]); // cut after a space
            offset += doc.Text.Length;
            pieces++;
            if (pieces % 50 == 0) peak = Math.Max(peak, GC.GetTotalMemory(true) - baseline); // live memory
        }
        Assert.Equal(Length, offset);
        Assert.True(pieces >= 400);
        // The whole line as a string would be 200 MB; pieces of 256 Ki chars plus buffers stay far below 64 MB.
        Assert.True(peak < 64L << 20, $"heap grew by {peak >> 20} MB");
    }
}

public class FormatSniffTests
{
    [Fact]
    public void MailIsRecognisedByItsHeaders()
    {
        Assert.True(CorpusSource.LooksLikeMail("From alice@example.com Thu Aug 22 12:36:23 2002\nSubject: x\n\nbody"u8));
        Assert.True(CorpusSource.LooksLikeMail("Received: from a\n\tby b\nX-Odd_Name: 1\nSubject: hi\n\nbody"u8));
        Assert.False(CorpusSource.LooksLikeMail("Note: this is prose.\nIt has a colon.\n\nMore."u8));  // no mail field
        Assert.False(CorpusSource.LooksLikeMail("CHAPTER 1. Loomings.\n\nCall me Ishmael."u8));
        Assert.False(CorpusSource.LooksLikeMail("Subject: only one field\n\nbody"u8));
    }

    [Fact]
    public void AutoFormatMixesTextJsonlAndMailAndFindsShardsBySplit()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("a.txt"), "plain text");
        File.WriteAllText(tmp.File("b.jsonl"), "{\"text\":\"from json\"}\n");
        File.WriteAllText(tmp.File("c.eml"), "From: a@b.c\nSubject: mail\nContent-Type: text/plain\n\nfrom mail\n");
        var docs = CorpusSource.Open(tmp.Path, new SourceReport()).Select(d => d.Text).ToList();
        Assert.Equal(["plain text", "from json", "mail\n\nfrom mail\n"], docs); // sources keep the text as is; cleaning trims

        foreach (var name in new[] { "c_val_000000.bin", "c_train_000001.bin", "c_train_000000.bin" }) File.WriteAllText(tmp.File(name), "");
        Assert.Equal(["c_train_000000.bin", "c_train_000001.bin"], TokenShard.Find(tmp.Path, "train").Select(p => Path.GetFileName(p)!).ToArray());
    }
}
