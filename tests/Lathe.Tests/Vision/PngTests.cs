using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Lathe.Vision.Images;

namespace Lathe.Tests.Vision;

/// <summary>The PNG codec against Pillow (Debian's python3-pil) as an independent decoder and encoder: fixtures Pillow
/// wrote or checked (fixtures/make_png_fixtures.py — every colour type, bit depth, filter type, split IDATs, tRNS)
/// decode to the pixels the script expects; files Lathe writes are read back by Pillow, live, to the same pixels.</summary>
public class PngTests
{
    internal static string Temp(string name) => Path.Combine(Directory.CreateTempSubdirectory("lathe-png").FullName, name);

    sealed record Case(string Name, int Width, int Height, int Channels, byte[] Png, byte[] Pixels);

    static List<Case> Fixtures()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Vision", "fixtures", "png_fixtures.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("name").GetString()!, c.GetProperty("width").GetInt32(), c.GetProperty("height").GetInt32(),
            c.GetProperty("channels").GetInt32(), Convert.FromBase64String(c.GetProperty("png").GetString()!),
            Convert.FromBase64String(c.GetProperty("pixels").GetString()!))).ToList();
    }

    [Fact]
    public void Decodes_every_fixture_to_the_pixels_Pillow_agrees_on()
    {
        var cases = Fixtures();
        Assert.True(cases.Count >= 25, $"{cases.Count} fixtures");
        foreach (var c in cases)
        {
            var image = Png.Decode(c.Png, c.Name);
            Assert.True((c.Width, c.Height, c.Channels) == (image.Width, image.Height, image.Channels),
                $"{c.Name}: {image.Width}×{image.Height}×{image.Channels}, expected {c.Width}×{c.Height}×{c.Channels}");
            int diff = FirstDifference(c.Pixels, image.Pixels);
            Assert.True(diff < 0, $"{c.Name}: byte {diff} differs");
        }
    }

    // Pillow reads each file Lathe wrote and prints its mode and raw bytes; it also saves the L and RGB ones as PGM/PPM
    // (P5/P6), which ImageFile must read back.
    const string PillowReader = """
        import sys, base64
        from PIL import Image
        for path in sys.argv[1:]:
            im = Image.open(path); im.load()
            print(im.mode, im.size[0], im.size[1], base64.b64encode(im.tobytes()).decode())
            if im.mode in ("L", "RGB"): im.save(path + (".pgm" if im.mode == "L" else ".ppm"))
        """;

    [Fact]
    public void Pillow_reads_what_Lathe_writes()
    {
        var random = new Random(22);
        var images = new List<PixelImage>();
        (int W, int H)[] sizes = [(1, 1), (17, 1), (1, 13), (31, 9), (28, 28)];
        foreach (int channels in new[] { 1, 2, 3, 4 })
            foreach (var (w, h) in sizes)
                images.Add(Smooth(w, h, channels, random));
        images.Add(new PixelImage(5, 4, 3, Enumerable.Repeat((byte)200, 60).ToArray()));   // constant: filter choice ties
        string dir = Directory.CreateTempSubdirectory("lathe-png-pil").FullName;
        var paths = images.Select((im, i) => Path.Combine(dir, $"lathe{i}.png")).ToList();
        for (int i = 0; i < images.Count; i++) Png.Write(paths[i], images[i]);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));

        var lines = RunPython(PillowReader, paths);
        Assert.Equal(images.Count, lines.Length);
        string[] modes = ["", "L", "LA", "RGB", "RGBA"];
        for (int i = 0; i < images.Count; i++)
        {
            var parts = lines[i].Split(' ');
            var im = images[i];
            Assert.Equal($"{modes[im.Channels]} {im.Width} {im.Height}", $"{parts[0]} {parts[1]} {parts[2]}");
            Assert.True(FirstDifference(im.Pixels, Convert.FromBase64String(parts[3])) < 0, $"image {i}: Pillow reads other pixels");
            Assert.Equal(im.Pixels, Png.Read(paths[i]).Pixels);
            if (im.Channels is 1 or 3)
            {
                // Pillow's PGM/PPM of the same pixels, through ImageFile's netpbm reader.
                var pnm = ImageFile.Read(paths[i] + (im.Channels == 1 ? ".pgm" : ".ppm"));
                Assert.Equal((im.Width, im.Height, im.Channels), (pnm.Width, pnm.Height, pnm.Channels));
                Assert.Equal(im.Pixels, pnm.Pixels);
            }
        }
    }

    [Fact]
    public void Encode_then_decode_is_exact_for_every_size_and_channel_count()
    {
        var random = new Random(5);
        for (int channels = 1; channels <= 4; channels++)
            for (int w = 1; w <= 9; w += 2)
                for (int h = 1; h <= 7; h += 3)
                {
                    var noise = new byte[w * h * channels];
                    random.NextBytes(noise);
                    foreach (var im in new[] { new PixelImage(w, h, channels, noise), Smooth(w, h, channels, random) })
                    {
                        var back = Png.Decode(Png.Encode(im));
                        Assert.Equal((w, h, channels), (back.Width, back.Height, back.Channels));
                        Assert.Equal(im.Pixels, back.Pixels);
                    }
                }
    }

    [Fact]
    public void Crc32_matches_the_standard_check_value()
    {
        // The CRC-32 catalogue's check value for ASCII "123456789" (the CRC used by PNG, zlib and Ethernet).
        Assert.Equal(0xCBF43926u, Png.Crc32("123456789"u8));
        Assert.Equal(0u, Png.Crc32([]));
    }

    [Fact]
    public void Broken_files_are_one_line_errors_naming_the_file()
    {
        byte[] good = Png.Encode(Smooth(6, 5, 3, new Random(1)));
        string path = Temp("broken.png");

        string Error(byte[] bytes)
        {
            File.WriteAllBytes(path, bytes);
            var e = Assert.Throws<InvalidDataException>(() => Png.Read(path));
            Assert.StartsWith(path + ": ", e.Message);
            Assert.DoesNotContain('\n', e.Message);
            return e.Message;
        }

        Assert.Contains("bad signature", Error(Encoding.ASCII.GetBytes("GIF89a not a png")));
        Assert.Contains("truncated", Error(good[..40]));        // cut inside the IDAT chunk
        Assert.Contains("no IEND", Error(good[..^12]));         // IEND missing
        var flipped = (byte[])good.Clone();
        flipped[45] ^= 0x10;                                   // a byte of IDAT's data
        Assert.Contains("CRC mismatch in chunk 'IDAT'", Error(flipped));
        Assert.Contains("interlaced (Adam7)", Error(WithHeaderByte(good, 12, 1)));
        Assert.Contains("colour type 2 with bit depth 4", Error(WithHeaderByte(good, 8, 4)));
        Assert.Contains("unknown critical chunk 'ABCD'", Error(Insert(good, 33, Chunk("ABCD", [1, 2, 3]))));
        Assert.Equal(good.Length + 15, Insert(good, 33, Chunk("abCD", [1, 2, 3])).Length);
        Assert.Equal(Png.Decode(good).Pixels, Png.Decode(Insert(good, 33, Chunk("abCD", [1, 2, 3]))).Pixels);   // ancillary: skipped
        Assert.Contains("filter type 7", Error(WithIdat(good, 6, 5, 3, filter: 7)));
        Assert.Contains("ends after", Error(WithIdat(good, 6, 5, 3, filter: 0, rows: 4)));
        Assert.Contains("not found", Assert.Throws<FileNotFoundException>(() => Png.Read(path + ".missing")).Message);
    }

    // ── helpers ──────────────────────────────────────────────────────────────────────────────────────────

    internal static PixelImage Smooth(int w, int h, int channels, Random random)
    {
        var p = new byte[w * h * channels];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < channels; c++)
                    p[(y * w + x) * channels + c] = (byte)(x * (c + 3) * 9 + y * 5 * (c + 1) + random.Next(6));
        return new PixelImage(w, h, channels, p);
    }

    static int FirstDifference(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return Math.Min(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return i;
        return -1;
    }

    static byte[] Chunk(string type, byte[] data)
    {
        var c = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(c, data.Length);
        Encoding.ASCII.GetBytes(type, c.AsSpan(4));
        data.CopyTo(c, 8);
        BinaryPrimitives.WriteUInt32BigEndian(c.AsSpan(8 + data.Length), Png.Crc32(c.AsSpan(4, 4 + data.Length)));
        return c;
    }

    static byte[] Insert(byte[] png, int at, byte[] bytes) => [.. png[..at], .. bytes, .. png[at..]];

    // IHDR's data starts at byte 16; its CRC is recomputed so only the field is wrong.
    static byte[] WithHeaderByte(byte[] png, int field, byte value)
    {
        var copy = (byte[])png.Clone();
        copy[16 + field] = value;
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(29), Png.Crc32(copy.AsSpan(12, 17)));
        return copy;
    }

    // The file with its IDAT replaced by rows of zeros that all use the given filter byte (and only `rows` rows).
    static byte[] WithIdat(byte[] png, int w, int h, int channels, byte filter, int? rows = null)
    {
        var raw = new MemoryStream();
        using (var z = new ZLibStream(raw, CompressionLevel.Fastest, leaveOpen: true))
            for (int y = 0; y < (rows ?? h); y++) { z.WriteByte(filter); z.Write(new byte[w * channels]); }
        return [.. png[..33], .. Chunk("IDAT", raw.ToArray()), .. Chunk("IEND", [])];
    }

    internal static string[] RunPython(string script, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script);
        foreach (string a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, "Pillow (apt-get install python3-pil) failed: " + error.Result);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
