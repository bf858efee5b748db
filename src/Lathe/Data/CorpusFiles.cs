using System.IO.Compression;

namespace Lathe.Data;

/// <summary>The files of a corpus path: a file is itself, a folder is every file under it (recursively,
/// hidden files excluded) in ordinal path order, so a corpus always reads in the same order.</summary>
public static class CorpusFiles
{
    /// <summary>Lists the files of <paramref name="path"/> matching <paramref name="pattern"/> (e.g. "*.txt").</summary>
    public static List<string> List(string path, string pattern = "*")
    {
        if (File.Exists(path)) return [path];
        if (!Directory.Exists(path)) throw new FileNotFoundException($"data: source {path} not found", path);
        var files = new List<string>();
        foreach (var f in Directory.EnumerateFiles(path, pattern, SearchOption.AllDirectories))
            if (!Path.GetFileName(f).StartsWith('.')) files.Add(f);
        files.Sort(StringComparer.Ordinal);
        return files;
    }

    /// <summary>Opens a file for reading, through gzip when its name ends in ".gz".</summary>
    public static Stream Open(string path)
    {
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    /// <summary>Reads up to <paramref name="max"/> bytes of a file (decompressed), for sniffing its format.</summary>
    internal static byte[] Head(string path, int max)
    {
        using var s = Open(path);
        var buffer = new byte[max];
        int n = s.ReadAtLeast(buffer, max, throwOnEndOfStream: false);
        return buffer.AsSpan(0, n).ToArray();
    }
}
