using System.IO.Compression;
using System.Text;

namespace Lathe.IO;

/// <summary>Writes JSON Lines atomically: one line per item, each ended by "\n", UTF-8 without a BOM, gzip-compressed
/// when the path ends in .gz (as the readers open it).</summary>
public static class JsonlFile
{
    public static void Write(string path, IEnumerable<string> lines)
    {
        AtomicFile.Write(path, stream =>
        {
            Stream target = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionLevel.Optimal, leaveOpen: true) : stream;
            using (var w = new StreamWriter(target, new UTF8Encoding(false), 1 << 16, leaveOpen: true))
                foreach (string line in lines) w.Write(line + "\n");
            if (!ReferenceEquals(target, stream)) target.Dispose();
        });
    }
}
