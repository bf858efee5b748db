using System.Text.Json;
using Lathe.IO;

namespace Lathe.Data;

/// <summary>Everything a run of the data stage counted; written as stats.json beside the shards.</summary>
public sealed class CorpusStats
{
    public SourceReport Source { get; } = new();
    public CleaningStats Cleaning { get; } = new();
    public long ExactDuplicates, NearDuplicates, DocumentsKept, TrainDocuments, ValidationDocuments, TrainTokens, ValidationTokens;
    public int LshBands, LshRows;
    public double Seconds;
    public List<string> Shards { get; } = [];

    /// <summary>Writes the counts as one JSON object.</summary>
    public void WriteJson(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteStartObject("source");
        w.WriteNumber("files_read", Source.FilesRead);
        w.WriteNumber("bytes_read", Source.BytesRead);
        w.WriteNumber("binary_files_skipped", Source.BinaryFilesSkipped);
        w.WriteNumber("empty_files_skipped", Source.EmptyFilesSkipped);
        w.WriteNumber("invalid_sequences_replaced", Source.InvalidSequencesReplaced);
        w.WriteNumber("attachments_skipped", Source.AttachmentsSkipped);
        w.WriteNumber("truncated_parts", Source.TruncatedParts);
        w.WriteEndObject();
        w.WriteStartObject("cleaning");
        foreach (var (name, value) in Cleaning.Fields()) w.WriteNumber(name, value);
        w.WriteEndObject();
        w.WriteStartObject("dedup");
        w.WriteNumber("exact_duplicates", ExactDuplicates);
        w.WriteNumber("near_duplicates", NearDuplicates);
        w.WriteNumber("lsh_bands", LshBands);
        w.WriteNumber("lsh_rows", LshRows);
        w.WriteNumber("documents_kept", DocumentsKept);
        w.WriteEndObject();
        w.WriteStartObject("shards");
        w.WriteNumber("train_documents", TrainDocuments);
        w.WriteNumber("validation_documents", ValidationDocuments);
        w.WriteNumber("train_tokens", TrainTokens);
        w.WriteNumber("validation_tokens", ValidationTokens);
        w.WriteStartArray("files");
        foreach (var s in Shards) w.WriteStringValue(Path.GetFileName(s));
        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteNumber("seconds", Math.Round(Seconds, 3));
        w.WriteEndObject();
    }

    /// <summary>Writes stats.json into <paramref name="dir"/> atomically.</summary>
    public void Save(string dir) =>
        AtomicFile.Write(Path.Combine(dir, "stats.json"), s =>
        {
            using var w = new Utf8JsonWriter(s, new JsonWriterOptions { Indented = true });
            WriteJson(w);
        });
}
