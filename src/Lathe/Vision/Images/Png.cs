using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Lathe.IO;

namespace Lathe.Vision.Images;

/// <summary>PNG files (W3C PNG specification, 2nd edition / ISO 15948): a decoder for every non-interlaced image —
/// greyscale (bit depth 1, 2, 4, 8, 16), greyscale + alpha, RGB and RGBA (8, 16), palette (1, 2, 4, 8, with tRNS
/// alpha) — into 8-bit <see cref="PixelImage"/>s, and an encoder of 8-bit greyscale, greyscale + alpha, RGB and RGBA.</summary>
/// <remarks>
/// Decoding rules: 16-bit samples keep their high byte (as libpng's strip-16 and Pillow do); 1/2/4-bit greyscale is
/// scaled to 0–255 (v·255 / (2^d − 1), spec §13.12); a palette image becomes RGB, or RGBA when it has a tRNS chunk;
/// tRNS of greyscale and RGB images and every other ancillary chunk are ignored. Interlaced (Adam7) images are refused
/// by name. Every chunk's CRC-32 is checked. Errors are <see cref="InvalidDataException"/>s naming the file.
/// </remarks>
public static class Png
{
    static ReadOnlySpan<byte> Signature => [137, 80, 78, 71, 13, 10, 26, 10];

    // A bound on decoded size, so a corrupt header cannot ask for gigabytes.
    const long MaxPixelBytes = 1L << 30;

    /// <summary>Reads a PNG file.</summary>
    public static PixelImage Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found");
        return Decode(File.ReadAllBytes(path), path);
    }

    /// <summary>Writes <paramref name="image"/> as a PNG, atomically.</summary>
    public static void Write(string path, PixelImage image)
    {
        byte[] bytes = Encode(image);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    // ── Encoder ─────────────────────────────────────────────────────────────────────────────────

    /// <summary>The PNG bytes of an 8-bit image: IHDR, one IDAT (zlib, each row filtered with the type that minimises
    /// the sum of absolute filtered bytes — the spec's suggested heuristic, §12.8), IEND.</summary>
    public static byte[] Encode(PixelImage image)
    {
        int channels = image.Channels, width = image.Width, height = image.Height;
        byte colourType = channels switch { 1 => 0, 2 => 4, 3 => 2, _ => 6 };
        int rowBytes = width * channels;
        var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
        {
            var filtered = new byte[5][];
            for (int f = 0; f < 5; f++) filtered[f] = new byte[rowBytes + 1];
            var zeros = new byte[rowBytes];
            for (int y = 0; y < height; y++)
            {
                ReadOnlySpan<byte> row = image.Pixels.AsSpan(y * rowBytes, rowBytes);
                ReadOnlySpan<byte> prior = y == 0 ? zeros : image.Pixels.AsSpan((y - 1) * rowBytes, rowBytes);
                int best = 0;
                long bestCost = long.MaxValue;
                for (int f = 0; f < 5; f++)
                {
                    var o = filtered[f];
                    o[0] = (byte)f;
                    Filter(f, row, prior, channels, o.AsSpan(1));
                    long cost = 0;
                    for (int i = 1; i < o.Length; i++) cost += o[i] < 128 ? o[i] : 256 - o[i];   // |byte as signed|
                    if (cost < bestCost) { bestCost = cost; best = f; }
                }
                z.Write(filtered[best]);
            }
        }
        var png = new MemoryStream();
        png.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; ihdr[9] = colourType; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", raw.GetBuffer().AsSpan(0, (int)raw.Length));
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    // Filters one row (spec §9.2): o[i] = x[i] − predictor, predictor from a (left), b (above), c (upper left).
    static void Filter(int type, ReadOnlySpan<byte> x, ReadOnlySpan<byte> prior, int bpp, Span<byte> o)
    {
        for (int i = 0; i < x.Length; i++)
        {
            int a = i >= bpp ? x[i - bpp] : 0, b = prior[i], c = i >= bpp ? prior[i - bpp] : 0;
            int p = type switch { 0 => 0, 1 => a, 2 => b, 3 => (a + b) >> 1, _ => Paeth(a, b, c) };
            o[i] = (byte)(x[i] - p);
        }
    }

    static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }

    static void WriteChunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        Encoding.ASCII.GetBytes(type, head[4..]);
        s.Write(head);
        s.Write(data);
        uint crc = IO.Crc32.Append(IO.Crc32.Compute(head[4..]), data);
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    // ── Decoder ─────────────────────────────────────────────────────────────────────────────────

    /// <summary>Decodes PNG bytes; <paramref name="name"/> (the file) begins every error message.</summary>
    public static PixelImage Decode(ReadOnlySpan<byte> data, string name = "PNG")
    {
        if (data.Length < 8 || !data[..8].SequenceEqual(Signature))
            throw new InvalidDataException($"{name}: not a PNG file (bad signature)");
        int width = 0, height = 0, depth = 0, colourType = -1;
        byte[]? palette = null, paletteAlpha = null;
        var idat = new MemoryStream();
        bool end = false;
        int pos = 8;
        while (!end)
        {
            if (pos == data.Length) throw new InvalidDataException($"{name}: truncated PNG (no IEND chunk; the file ends at byte {pos})");
            if (data.Length - pos < 12) throw new InvalidDataException($"{name}: truncated PNG (a chunk header at byte {pos} needs 12 bytes, {data.Length - pos} left)");
            uint length = BinaryPrimitives.ReadUInt32BigEndian(data[pos..]);
            var typeBytes = data.Slice(pos + 4, 4);
            string type = ChunkName(typeBytes);
            if (length > int.MaxValue || length > data.Length - pos - 12)
                throw new InvalidDataException($"{name}: truncated PNG (chunk '{type}' at byte {pos} says {length} bytes, {data.Length - pos - 12} left)");
            var body = data.Slice(pos + 8, (int)length);
            uint stored = BinaryPrimitives.ReadUInt32BigEndian(data[(pos + 8 + (int)length)..]);
            uint actual = IO.Crc32.Append(IO.Crc32.Compute(typeBytes), body);
            if (stored != actual) throw new InvalidDataException($"{name}: CRC mismatch in chunk '{type}' at byte {pos} (stored {stored:x8}, computed {actual:x8})");
            if (pos == 8 && type != "IHDR") throw new InvalidDataException($"{name}: the first chunk is '{type}', not IHDR");
            switch (type)
            {
                case "IHDR":
                    if (pos != 8) throw new InvalidDataException($"{name}: a second IHDR chunk at byte {pos}");
                    if (length != 13) throw new InvalidDataException($"{name}: IHDR has {length} bytes, not 13");
                    (width, height, depth, colourType) = Header(body, name);
                    break;
                case "PLTE":
                    if (length == 0 || length % 3 != 0 || length > 768) throw new InvalidDataException($"{name}: PLTE has {length} bytes (1 to 256 RGB entries)");
                    palette = body.ToArray();
                    break;
                case "tRNS":
                    if (colourType == 3) paletteAlpha = body.ToArray();
                    break;
                case "IDAT":
                    idat.Write(body);
                    break;
                case "IEND":
                    end = true;
                    break;
                default:
                    // Bit 5 of the first byte clear = critical: a chunk we do not know and must not ignore (§5.4).
                    if ((typeBytes[0] & 0x20) == 0) throw new InvalidDataException($"{name}: unknown critical chunk '{type}' at byte {pos}");
                    break;
            }
            pos += 12 + (int)length;
        }
        if (idat.Length == 0) throw new InvalidDataException($"{name}: no IDAT chunk (no image data)");
        if (colourType == 3 && palette is null) throw new InvalidDataException($"{name}: a palette image without a PLTE chunk");

        int samples = colourType switch { 0 => 1, 2 => 3, 3 => 1, 4 => 2, _ => 4 };
        int bitsPerPixel = samples * depth;
        long rowBytesLong = ((long)width * bitsPerPixel + 7) / 8;
        int outChannels = colourType switch { 0 => 1, 2 => 3, 3 => paletteAlpha is null ? 3 : 4, 4 => 2, _ => 4 };
        if ((rowBytesLong + 1) * height > MaxPixelBytes || (long)width * height * outChannels > MaxPixelBytes)
            throw new InvalidDataException($"{name}: {width}×{height} is too large to decode here");
        int rowBytes = (int)rowBytesLong;
        int bpp = Math.Max(1, bitsPerPixel / 8);

        var filtered = new byte[(rowBytes + 1) * height];
        idat.Position = 0;
        int got = 0;
        try
        {
            using var z = new ZLibStream(idat, CompressionMode.Decompress);
            while (got < filtered.Length)
            {
                int n = z.Read(filtered, got, filtered.Length - got);
                if (n == 0) break;
                got += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{name}: the image data is not a valid zlib stream ({e.Message})");
        }
        if (got < filtered.Length)
            throw new InvalidDataException($"{name}: the image data ends after {got} of {filtered.Length} bytes ({height} rows of {rowBytes} + 1 filter byte)");

        // Undo the filters in place (§9.2); row y's bytes are filtered[y·(rowBytes+1)+1 …].
        for (int y = 0; y < height; y++)
        {
            int start = y * (rowBytes + 1);
            int filter = filtered[start];
            var row = filtered.AsSpan(start + 1, rowBytes);
            ReadOnlySpan<byte> prior = y == 0 ? default : filtered.AsSpan(start - rowBytes, rowBytes);
            if (filter > 4) throw new InvalidDataException($"{name}: row {y} has filter type {filter} (0–4 are defined)");
            Unfilter(filter, row, prior, bpp);
        }

        var image = new PixelImage(width, height, outChannels);
        var dst = image.Pixels;
        for (int y = 0; y < height; y++)
        {
            ReadOnlySpan<byte> row = filtered.AsSpan(y * (rowBytes + 1) + 1, rowBytes);
            var outRow = dst.AsSpan(y * width * outChannels, width * outChannels);
            if (depth == 8 && colourType != 3) row.CopyTo(outRow);
            else if (depth == 16) for (int i = 0; i < outRow.Length; i++) outRow[i] = row[2 * i];   // the high byte
            else if (colourType == 0)
            {
                int scale = 255 / ((1 << depth) - 1);
                for (int x = 0; x < width; x++) outRow[x] = (byte)(Sample(row, x, depth) * scale);
            }
            else
            {
                int entries = palette!.Length / 3;
                for (int x = 0; x < width; x++)
                {
                    int index = Sample(row, x, depth);
                    if (index >= entries) throw new InvalidDataException($"{name}: pixel ({x}, {y}) uses palette entry {index}; PLTE has {entries}");
                    var o = outRow.Slice(x * outChannels, outChannels);
                    o[0] = palette[3 * index]; o[1] = palette[3 * index + 1]; o[2] = palette[3 * index + 2];
                    if (outChannels == 4) o[3] = index < paletteAlpha!.Length ? paletteAlpha[index] : (byte)255;
                }
            }
        }
        return image;
    }

    static (int Width, int Height, int Depth, int ColourType) Header(ReadOnlySpan<byte> h, string name)
    {
        uint width = BinaryPrimitives.ReadUInt32BigEndian(h), height = BinaryPrimitives.ReadUInt32BigEndian(h[4..]);
        int depth = h[8], colourType = h[9];
        if (width == 0 || height == 0 || width > int.MaxValue || height > int.MaxValue)
            throw new InvalidDataException($"{name}: image size {width}×{height} is not allowed");
        bool valid = colourType switch
        {
            0 => depth is 1 or 2 or 4 or 8 or 16,
            2 or 4 or 6 => depth is 8 or 16,
            3 => depth is 1 or 2 or 4 or 8,
            _ => false,
        };
        if (!valid) throw new InvalidDataException($"{name}: colour type {colourType} with bit depth {depth} is not a PNG format");
        if (h[10] != 0) throw new InvalidDataException($"{name}: compression method {h[10]} (only 0, zlib, is defined)");
        if (h[11] != 0) throw new InvalidDataException($"{name}: filter method {h[11]} (only 0 is defined)");
        if (h[12] == 1) throw new InvalidDataException($"{name}: interlaced (Adam7) PNGs are not supported; save the image without interlacing");
        if (h[12] != 0) throw new InvalidDataException($"{name}: interlace method {h[12]} is not defined");
        return ((int)width, (int)height, depth, colourType);
    }

    static void Unfilter(int type, Span<byte> x, ReadOnlySpan<byte> prior, int bpp)
    {
        bool first = prior.IsEmpty;
        switch (type)
        {
            case 0: return;
            case 1:
                for (int i = bpp; i < x.Length; i++) x[i] += x[i - bpp];
                return;
            case 2:
                if (!first) for (int i = 0; i < x.Length; i++) x[i] += prior[i];
                return;
            case 3:
                for (int i = 0; i < x.Length; i++)
                {
                    int a = i >= bpp ? x[i - bpp] : 0, b = first ? 0 : prior[i];
                    x[i] += (byte)((a + b) >> 1);
                }
                return;
            default:
                for (int i = 0; i < x.Length; i++)
                {
                    int a = i >= bpp ? x[i - bpp] : 0, b = first ? 0 : prior[i], c = i >= bpp && !first ? prior[i - bpp] : 0;
                    x[i] += (byte)Paeth(a, b, c);
                }
                return;
        }
    }

    // Sample x of a row packed at 1, 2 or 4 bits per sample, most significant bits first (§7.2).
    static int Sample(ReadOnlySpan<byte> row, int x, int depth)
    {
        int bit = x * depth;
        return (row[bit >> 3] >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
    }

    static string ChunkName(ReadOnlySpan<byte> type)
    {
        foreach (byte b in type)
            if (b is < (byte)'A' or > (byte)'z' or > (byte)'Z' and < (byte)'a') return "0x" + Convert.ToHexString(type);
        return Encoding.ASCII.GetString(type);
    }

    /// <summary>The CRC-32 of <paramref name="bytes"/> as PNG chunks (and zlib's crc32) compute it (one implementation:
    /// <see cref="IO.Crc32"/>).</summary>
    public static uint Crc32(ReadOnlySpan<byte> bytes) => IO.Crc32.Compute(bytes);
}
