using System.Buffers.Binary;
using System.IO.Compression;

namespace Lathe.Tests.Browser;

/// <summary>Reads the pixels of an 8-bit, non-interlaced PNG (what Chromium's screenshots are: RGB or RGBA), enough
/// for a test to tell a rendered page from a blank one. Chunks are walked, IDAT inflated (zlib) and each scanline's
/// filter (none, sub, up, average, Paeth — PNG specification §9) undone.</summary>
static class PngPixels
{
    public static (int Width, int Height, int Channels, byte[] Pixels) Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
        if (!file.AsSpan(0, 8).SequenceEqual(signature)) throw new InvalidDataException($"{path}: not a PNG file");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (int at = 8; at + 8 <= file.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(file.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(file, at + 4, 4);
            var data = file.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                width = BinaryPrimitives.ReadInt32BigEndian(data);
                height = BinaryPrimitives.ReadInt32BigEndian(data[4..]);
                int depth = data[8], color = data[9], interlace = data[12];
                if (depth != 8 || interlace != 0 || (color != 2 && color != 6)) throw new InvalidDataException($"{path}: only 8-bit non-interlaced RGB/RGBA is read (depth {depth}, color {color}, interlace {interlace})");
                channels = color == 2 ? 3 : 4;
            }
            else if (type == "IDAT") idat.Write(data);
            else if (type == "IEND") break;
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        byte[] raw = inflated.ToArray();
        int stride = width * channels;
        var pixels = new byte[height * stride];
        for (int y = 0; y < height; y++)
        {
            int filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            var row = pixels.AsSpan(y * stride, stride);
            var above = y > 0 ? pixels.AsSpan((y - 1) * stride, stride) : new byte[stride];
            for (int x = 0; x < stride; x++)
            {
                int a = x >= channels ? row[x - channels] : 0, b = above[x], c = x >= channels ? above[x - channels] : 0;
                int predictor = filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"{path}: scanline {y} has filter {filter}"),
                };
                row[x] = (byte)(line[x] + predictor);
            }
        }
        return (width, height, channels, pixels);
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    /// <summary>How many pixels differ from <paramref name="background"/> (RGB): ink on the page.</summary>
    public static int NonBackground(string path, int background)
    {
        var (w, h, ch, px) = Read(path);
        int n = 0;
        for (int i = 0; i < w * h; i++)
            if ((px[i * ch] << 16 | px[i * ch + 1] << 8 | px[i * ch + 2]) != background) n++;
        return n;
    }

    /// <summary>How many distinct colours (RGB) the image has: a blank page has one or two.</summary>
    public static int DistinctColours(string path)
    {
        var (w, h, ch, px) = Read(path);
        var seen = new HashSet<int>();
        for (int i = 0; i < w * h; i++) seen.Add(px[i * ch] << 16 | px[i * ch + 1] << 8 | px[i * ch + 2]);
        return seen.Count;
    }
}
