
namespace Lathe.Knowledge.Store;

/// <summary>The file formats a graph is imported from.</summary>
public enum GraphFormat
{
    /// <summary>Lathe's own lines of relations, entities and facts (lossless; docs/KNOWLEDGE.md).</summary>
    Jsonl,
    /// <summary>W3C N-Triples, with Lathe's IRI mapping (<see cref="NTriplesReader"/>).</summary>
    NTriples,
    /// <summary>Facts as RFC 4180 CSV: <c>subject,relation,object[,object_type][,source]</c>.</summary>
    Csv,
}

/// <summary>A graph file's format from its name, and its bytes with gzip undone.</summary>
public static class GraphFileFormat
{
    /// <summary>The format a file name says: <c>.jsonl</c>, <c>.nt</c> or <c>.csv</c>, each optionally followed by <c>.gz</c>.</summary>
    public static GraphFormat Of(string path)
    {
        string name = Path.GetFileName(path).ToLowerInvariant();
        if (name.EndsWith(".gz", StringComparison.Ordinal)) name = name[..^3];
        return Path.GetExtension(name) switch
        {
            ".jsonl" => GraphFormat.Jsonl,
            ".nt" => GraphFormat.NTriples,
            ".csv" => GraphFormat.Csv,
            _ => throw new ArgumentException($"{path}: unknown graph format (expected .jsonl, .nt or .csv, optionally .gz)"),
        };
    }
}
