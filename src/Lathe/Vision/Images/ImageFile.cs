using System.Globalization;
using Lathe.Tensors;

namespace Lathe.Vision.Images;

/// <summary>Image files as model inputs: PNG (any kind <see cref="Png"/> decodes) and binary PGM/PPM (netpbm P5/P6, maxval
/// up to 65535), read into a float tensor (1, C, H, W) in [0, 1] or [−1, 1].</summary>
/// <remarks>
/// Conversion rules, when a model's input differs from the file: alpha is dropped (the colour samples are kept as they
/// are, not composited); an RGB file is accepted by a greyscale model only when every pixel has R = G = B (then R is
/// used), never by a weighted sum of colours; a greyscale file given to an RGB model is copied into all three channels.
/// The size is never changed: a file of another size is refused by <see cref="Require"/>.
/// </remarks>
public static class ImageFile
{
    /// <summary>Reads a PNG or binary PGM/PPM file, chosen by its first bytes (not its name).</summary>
    public static PixelImage Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: not found");
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length >= 2 && bytes[0] == 'P' && (bytes[1] == '5' || bytes[1] == '6')) return ReadNetpbm(bytes, path);
        if (bytes.Length >= 1 && bytes[0] == 137) return Png.Decode(bytes, path);
        throw new InvalidDataException($"{path}: not a PNG or binary PGM/PPM (P5/P6) file");
    }

    /// <summary>The file as a tensor (1, C, H, W), C = 1 or 3 (alpha dropped), in [0, 1] or, when
    /// <paramref name="symmetric"/>, [−1, 1]. The caller disposes it.</summary>
    public static Tensor Load(string path, bool symmetric = false) => ToTensor(Read(path), symmetric);

    /// <summary>The file as a tensor (1, <paramref name="channels"/>, <paramref name="height"/>, <paramref name="width"/>)
    /// for a model that takes that shape, converted by the rules above; otherwise an <see cref="InvalidDataException"/>
    /// in one line naming the option and the file, e.g. "--image x.png: 32×32 RGB, the model takes 28×28 greyscale"
    /// (sizes are width×height).</summary>
    public static Tensor Require(string path, int channels, int height, int width, string option = "--image", bool symmetric = false)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"ImageFile.Require: a model takes 1 or 3 channels, not {channels}");
        var image = Read(path);
        string wanted = $"the model takes {width}×{height} {PixelImage.ChannelNameOf(channels)}";
        string Prefix() => string.IsNullOrEmpty(option) ? path : $"{option} {path}";
        if (image.Width != width || image.Height != height)
            throw new InvalidDataException($"{Prefix()}: {image.Width}×{image.Height} {image.ChannelName}, {wanted}");
        int colour = image.Channels >= 3 ? 3 : 1;
        if (channels == 1 && colour == 3)
        {
            var (x, y) = FirstColouredPixel(image);
            if (x >= 0)
            {
                int at = (y * image.Width + x) * image.Channels;
                var p = image.Pixels;
                throw new InvalidDataException($"{Prefix()}: {image.Width}×{image.Height} {image.ChannelName} in colour " +
                    $"(pixel ({x}, {y}) is R,G,B = {p[at]},{p[at + 1]},{p[at + 2]}), {wanted} (an RGB file is taken as grey only when R = G = B everywhere)");
            }
        }
        return ToTensor(image, symmetric, channels);
    }

    /// <summary>An image as a tensor (1, C, H, W) with <paramref name="channels"/> channels (default: 1 for grey files,
    /// 3 for colour ones), by the rules above. RGB to one channel takes the red sample (callers check R = G = B).</summary>
    public static Tensor ToTensor(PixelImage image, bool symmetric = false, int channels = 0)
    {
        int colour = image.Channels >= 3 ? 3 : 1;
        if (channels == 0) channels = colour;
        int h = image.Height, w = image.Width, stride = image.Channels, plane = h * w;
        var t = Tensor.Empty(1, channels, h, w);
        var dst = t.AsSpan();
        var src = image.Pixels;
        float scale = symmetric ? 2f / 255f : 1f / 255f, shift = symmetric ? -1f : 0f;
        for (int c = 0; c < channels; c++)
        {
            // The source sample for output channel c: grey → always 0; colour → c (or R for a one-channel output).
            int sc = colour == 1 ? 0 : Math.Min(c, colour - 1);
            var o = dst.Slice(c * plane, plane);
            for (int i = 0; i < plane; i++) o[i] = src[i * stride + sc] * scale + shift;
        }
        return t;
    }

    // The first pixel (x, y) whose R, G, B differ, or (−1, −1).
    static (int X, int Y) FirstColouredPixel(PixelImage image)
    {
        var p = image.Pixels;
        int stride = image.Channels;
        for (int i = 0, at = 0; i < image.Width * image.Height; i++, at += stride)
            if (p[at] != p[at + 1] || p[at] != p[at + 2]) return (i % image.Width, i / image.Width);
        return (-1, -1);
    }

    // ── Netpbm P5 (PGM) and P6 (PPM): "P5|P6", width, height, maxval as ASCII decimals separated by whitespace (and
    // # comments to the end of a line), one whitespace byte, then the samples, one byte each, or two big-endian bytes
    // when maxval > 255 (netpbm's pgm(5)/ppm(5)). Samples are scaled to 0–255 by round(v·255 / maxval).

    static PixelImage ReadNetpbm(byte[] bytes, string path)
    {
        int channels = bytes[1] == '5' ? 1 : 3;
        int pos = 2;
        int width = HeaderNumber(bytes, ref pos, path, "width"), height = HeaderNumber(bytes, ref pos, path, "height");
        int maxval = HeaderNumber(bytes, ref pos, path, "maxval");
        if (width <= 0 || height <= 0) throw new InvalidDataException($"{path}: image size {width}×{height} is not allowed");
        if (maxval is < 1 or > 65535) throw new InvalidDataException($"{path}: maxval {maxval} is not 1–65535");
        if (pos >= bytes.Length || !IsSpace(bytes[pos])) throw new InvalidDataException($"{path}: truncated header (no whitespace after maxval)");
        pos++;
        int sampleBytes = maxval > 255 ? 2 : 1;
        long need = (long)width * height * channels * sampleBytes;
        if (need > 1L << 30) throw new InvalidDataException($"{path}: {width}×{height} is too large to decode here");
        if (bytes.Length - pos < need) throw new InvalidDataException($"{path}: truncated ({bytes.Length - pos} sample bytes, {width}×{height}×{channels} needs {need})");
        var image = new PixelImage(width, height, channels);
        var dst = image.Pixels;
        for (int i = 0; i < dst.Length; i++)
        {
            int v = sampleBytes == 1 ? bytes[pos + i] : (bytes[pos + 2 * i] << 8) | bytes[pos + 2 * i + 1];
            if (v > maxval) throw new InvalidDataException($"{path}: sample {i} is {v}, above maxval {maxval}");
            dst[i] = maxval == 255 ? (byte)v : (byte)((v * 255L * 2 + maxval) / (2L * maxval));
        }
        return image;
    }

    static int HeaderNumber(byte[] b, ref int pos, string path, string what)
    {
        while (pos < b.Length && (IsSpace(b[pos]) || b[pos] == '#'))
        {
            if (b[pos] == '#') while (pos < b.Length && b[pos] != '\n' && b[pos] != '\r') pos++;
            else pos++;
        }
        int start = pos;
        long value = 0;
        while (pos < b.Length && b[pos] >= '0' && b[pos] <= '9' && pos - start < 10) value = value * 10 + (b[pos++] - '0');
        if (pos == start) throw new InvalidDataException($"{path}: the netpbm header has no {what} (byte {pos})");
        if (value > int.MaxValue) throw new InvalidDataException($"{path}: {what} {value.ToString(CultureInfo.InvariantCulture)} is too large");
        return (int)value;
    }

    static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or 0x0B or 0x0C;
}
