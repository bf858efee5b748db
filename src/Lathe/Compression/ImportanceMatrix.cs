namespace Lathe.Compression;

/// <summary>One weight's entry: Σ x² over every input row the weight saw, per input column, and how many rows that was.</summary>
public sealed record ImportanceEntry(float[] Sums, long Count);

/// <summary>An importance matrix as llama.cpp's imatrix tool makes it (tools/imatrix): for each linear weight, keyed by
/// its GGUF tensor name ("blk.0.attn_q.weight"), the sum of the squared activations entering each input column over a
/// calibration text, and the token count. The k-quant encoders weight each column's rounding error by
/// <see cref="Values"/> (mean x²), so columns that carry large activations are kept more precisely.
/// Read and written in both of llama.cpp's layouts (<see cref="ImportanceMatrixFile"/>); computed by
/// <see cref="ImportanceMatrixCollector"/>.</summary>
public sealed class ImportanceMatrix(IReadOnlyDictionary<string, ImportanceEntry> entries, IReadOnlyList<string> datasets, int chunkCount, int chunkSize)
{
    public IReadOnlyDictionary<string, ImportanceEntry> Entries { get; } = entries;

    /// <summary>The calibration texts (file names) it was computed on.</summary>
    public IReadOnlyList<string> Datasets { get; } = datasets;

    /// <summary>How many windows (llama.cpp's chunks) were evaluated, and of how many tokens each.</summary>
    public int ChunkCount { get; } = chunkCount;
    public int ChunkSize { get; } = chunkSize;

    /// <summary>The importance row the quantizer uses for <paramref name="name"/>: Σ x² / count, or ones when no row
    /// was seen (llama.cpp's quantize tool normalises a loaded matrix the same way); null when there is no entry.</summary>
    public float[]? Values(string name)
    {
        if (!Entries.TryGetValue(name, out var e)) return null;
        var values = new float[e.Sums.Length];
        for (int i = 0; i < values.Length; i++) values[i] = e.Count > 0 ? e.Sums[i] / e.Count : 1f;
        return values;
    }

    /// <summary>Reads a llama.cpp imatrix file, GGUF or legacy binary (told apart by the GGUF magic).</summary>
    public static ImportanceMatrix Read(string path) => ImportanceMatrixFile.Read(path);

    /// <summary>Writes the matrix atomically: in llama.cpp's GGUF layout, or its legacy <c>.dat</c> layout when
    /// <paramref name="legacy"/>.</summary>
    public void Write(string path, bool legacy = false)
    {
        if (legacy) ImportanceMatrixFile.WriteLegacy(this, path);
        else ImportanceMatrixFile.WriteGguf(this, path);
    }
}
