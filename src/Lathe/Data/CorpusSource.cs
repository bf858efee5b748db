namespace Lathe.Data;

/// <summary>How to read the files of a corpus.</summary>
public enum SourceFormat
{
    /// <summary>By file: ".jsonl"/".jsonl.gz" is JSON Lines, a file that starts like an RFC 822 message is mail,
    /// anything else is plain text.</summary>
    Auto,
    Text,
    Jsonl,
    Mail,
}

/// <summary>Opens a corpus path (file or folder) as a stream of documents.</summary>
public static class CorpusSource
{
    /// <summary>The documents of <paramref name="path"/>, read lazily file by file, in ordinal path order.</summary>
    public static IEnumerable<Document> Open(string path, SourceReport report, SourceFormat format = SourceFormat.Auto,
        string pattern = "*", string jsonField = "text", int maxDocumentChars = TextSource.DefaultMaxDocumentChars)
    {
        var files = CorpusFiles.List(path, pattern);
        return format switch
        {
            SourceFormat.Text => new TextSource(files, report, maxDocumentChars),
            SourceFormat.Jsonl => new JsonlSource(files, report, jsonField),
            SourceFormat.Mail => new MailSource(files, report),
            _ => Auto(files, report, jsonField, maxDocumentChars),
        };
    }

    static IEnumerable<Document> Auto(List<string> files, SourceReport report, string jsonField, int maxDocumentChars)
    {
        foreach (var file in files)
        {
            IEnumerable<Document> docs;
            string name = file.ToLowerInvariant();
            if (name.EndsWith(".jsonl", StringComparison.Ordinal) || name.EndsWith(".jsonl.gz", StringComparison.Ordinal))
                docs = new JsonlSource([file], report, jsonField);
            else if (LooksLikeMail(CorpusFiles.Head(file, 1024)))
                docs = new MailSource([file], report);
            else
                docs = new TextSource([file], report, maxDocumentChars);
            foreach (var d in docs) yield return d;
        }
    }

    /// <summary>True when the bytes start like a stored mail message: an mbox "From " line or header fields
    /// ("Name: value", RFC 5322 §2.2) up to an empty line, with at least one of the fields every mail has.</summary>
    internal static bool LooksLikeMail(ReadOnlySpan<byte> head)
    {
        if (head.StartsWith("From "u8)) return true;
        int fields = 0;
        bool known = false;
        int start = 0;
        while (start < head.Length)
        {
            int eol = head[start..].IndexOf((byte)'\n');
            if (eol < 0) break;
            var line = head.Slice(start, eol).TrimEnd((byte)'\r');
            if (line.IsEmpty) return fields >= 2 && known;
            if (line[0] is (byte)' ' or (byte)'\t') { start += eol + 1; continue; } // folded continuation
            int colon = line.IndexOf((byte)':');
            if (colon <= 0) return false;
            foreach (byte b in line[..colon]) if (b is < 33 or > 126) return false; // field names are printable ASCII (RFC 5322 §2.2)
            var name = System.Text.Encoding.ASCII.GetString(line[..colon]).ToLowerInvariant();
            if (name is "from" or "to" or "subject" or "date" or "message-id" or "received" or "return-path") known = true;
            fields++;
            start += eol + 1;
        }
        return fields >= 2 && known;
    }
}
