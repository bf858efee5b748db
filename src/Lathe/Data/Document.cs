namespace Lathe.Data;

/// <summary>One document of a corpus: where it came from (a file path, "path:line" for JSONL,
/// "path#2" for the second piece of a long file) and its text.</summary>
public readonly record struct Document(string Id, string Text);

/// <summary>What reading a corpus ran into: files skipped, bytes replaced. Shared by every source;
/// warnings go to <see cref="Warning"/> (the CLI prints them on stderr) as well as being counted.</summary>
public sealed class SourceReport
{
    /// <summary>Files read (including skipped ones).</summary>
    public long FilesRead;
    /// <summary>Files skipped because they look binary (a NUL byte in their first 8 KiB).</summary>
    public long BinaryFilesSkipped;
    /// <summary>Empty files (or mails with no text part), which yield no document.</summary>
    public long EmptyFilesSkipped;
    /// <summary>Invalid byte sequences replaced by U+FFFD while decoding.</summary>
    public long InvalidSequencesReplaced;
    /// <summary>Mail attachments (non-text parts or Content-Disposition: attachment) skipped.</summary>
    public long AttachmentsSkipped;
    /// <summary>MIME multiparts that ended without their closing boundary (read up to the end).</summary>
    public long TruncatedParts;
    /// <summary>Bytes of input read: decompressed for text and mail, the file size for JSONL.</summary>
    public long BytesRead;

    /// <summary>Called with a one-line warning naming the file; null ignores warnings.</summary>
    public Action<string>? Warning { get; set; }

    internal void Warn(string message) => Warning?.Invoke(message);
}
