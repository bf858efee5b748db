using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Lathe.IO;

namespace Lathe.Evaluation.Scaling;

/// <summary>Writes an 8-bit RGB, non-interlaced PNG (PNG specification, 3rd edition): the signature, IHDR, one IDAT
/// holding the zlib stream of the filtered scanlines (ZLibStream writes the Adler-32 trailer), and IEND, each chunk
/// with its CRC-32. Each scanline takes the filter (none, sub, up, average, Paeth) whose output has the smallest sum of
/// absolute values as signed bytes — the heuristic the specification suggests (§12.7) — which shrinks a chart's flat
/// areas to runs of zeros.</summary>
internal static class PngEncoder
{
    static readonly byte[] Signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    public static byte[] EncodeRgb(int width, int height, byte[] rgb)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"png: width and height must be positive (got {width}×{height})");
        int stride = width * 3;
        if (rgb.Length != stride * height) throw new ArgumentException($"png: {rgb.Length} bytes of pixels for {width}×{height} RGB (want {stride * height})");
        var png = new MemoryStream();
        png.Write(Signature);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8;   // bit depth
        header[9] = 2;   // colour type: truecolour (RGB)
        // compression 0 (deflate), filter method 0 (adaptive), interlace 0 (none): header[10..12] stay zero.
        Chunk(png, "IHDR", header);
        Chunk(png, "IDAT", Compress(width, height, rgb));
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    static byte[] Compress(int width, int height, byte[] rgb)
    {
        int stride = width * 3;
        var zlib = new MemoryStream();
        using (var z = new ZLibStream(zlib, CompressionLevel.Optimal, leaveOpen: true))
        {
            var candidates = new byte[5][];
            for (int f = 0; f < 5; f++) candidates[f] = new byte[stride + 1];
            var zero = new byte[stride];
            for (int y = 0; y < height; y++)
            {
                var row = rgb.AsSpan(y * stride, stride);
                var above = y > 0 ? rgb.AsSpan((y - 1) * stride, stride) : zero;
                int best = 0;
                long bestCost = long.MaxValue;
                for (int f = 0; f < 5; f++)
                {
                    var line = candidates[f];
                    line[0] = (byte)f;
                    long cost = 0;
                    for (int x = 0; x < stride; x++)
                    {
                        int a = x >= 3 ? row[x - 3] : 0, b = above[x], c = x >= 3 ? above[x - 3] : 0;
                        int predictor = f switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => Paeth(a, b, c) };
                        byte v = (byte)(row[x] - predictor);
                        line[x + 1] = v;
                        cost += v < 128 ? v : 256 - v;   // |v| as a signed byte
                    }
                    if (cost < bestCost) { bestCost = cost; best = f; }
                }
                z.Write(candidates[best]);
            }
        }
        return zlib.ToArray();
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    // Length, type, data, and the CRC-32 of type and data (not the length).
    static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        byte[] name = Encoding.ASCII.GetBytes(type);
        png.Write(name);
        png.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32.Append(Crc32.Compute(name), data));
        png.Write(word);
    }
}
