using System.Text;
using Lathe.Vision.Images;

namespace Lathe.Tests.Vision;

/// <summary>Image files into model inputs: netpbm headers as pgm(5)/ppm(5) define them, the tensor layout and range,
/// and the one-line refusals of Require. (PNG and Pillow's own PGM/PPM are checked in PngTests.)</summary>
public class ImageFileTests
{
    static string Write(string name, byte[] bytes)
    {
        string path = PngTests.Temp(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static byte[] Bytes(string header, params byte[] body) => [.. Encoding.ASCII.GetBytes(header), .. body];

    // Float scaling may round differently from the division written here by an ulp; 1e-6 is far below 1/255.
    static void Close(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], 1e-6f);
    }

    [Fact]
    public void Reads_netpbm_with_comments_and_two_byte_samples()
    {
        // P5, 3×2, a comment in the header, maxval 255.
        var grey = ImageFile.Read(Write("a.pgm", Bytes("P5\n# made by hand\n3 2\n255\n", 0, 10, 20, 30, 40, 255)));
        Assert.Equal((3, 2, 1), (grey.Width, grey.Height, grey.Channels));
        Assert.Equal(new byte[] { 0, 10, 20, 30, 40, 255 }, grey.Pixels);
        // P6, 2×1, maxval 1000: two big-endian bytes per sample, scaled by round(v·255/1000).
        var rgb = ImageFile.Read(Write("b.ppm", Bytes("P6 2 1 1000\n", 0, 0, 0x01, 0xF4, 0x03, 0xE8, 0, 2, 0, 3, 0, 4)));
        Assert.Equal((2, 1, 3), (rgb.Width, rgb.Height, rgb.Channels));
        Assert.Equal(new byte[] { 0, 128, 255, 1, 1, 1 }, rgb.Pixels);   // 500 → 127.5 → 128; 2 → 0.51 → 1; 3, 4 → 1
        // maxval 15: round(v·17).
        Assert.Equal(new byte[] { 0, 17, 255 }, ImageFile.Read(Write("c.pgm", Bytes("P5 3 1 15 ", 0, 1, 15))).Pixels);

        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => ImageFile.Read(Write("d.pgm", Bytes("P5 3 2 255\n", 1, 2)))).Message);
        Assert.Contains("above maxval", Assert.Throws<InvalidDataException>(() => ImageFile.Read(Write("e.pgm", Bytes("P5 1 1 7\n", 9)))).Message);
        Assert.Contains("no height", Assert.Throws<InvalidDataException>(() => ImageFile.Read(Write("f.pgm", Bytes("P5 3 x")))).Message);
        string text = Write("g.txt", Encoding.ASCII.GetBytes("hello"));
        Assert.Equal($"{text}: not a PNG or binary PGM/PPM (P5/P6) file", Assert.Throws<InvalidDataException>(() => ImageFile.Read(text)).Message);
    }

    [Fact]
    public void Loads_channels_first_in_either_range()
    {
        // 2×1 RGBA: alpha is dropped, the tensor is (1, 3, 1, 2) planes R, G, B.
        string path = PngTests.Temp("rgba.png");
        Png.Write(path, new PixelImage(2, 1, 4, [255, 0, 51, 7, 0, 102, 255, 9]));
        using var t = ImageFile.Load(path);
        Assert.Equal([1, 3, 1, 2], t.Shape.ToArray());
        Close([1f, 0f, 0f, 102f / 255, 51f / 255, 1f], t.ToArray());
        using var s = ImageFile.Load(path, symmetric: true);
        Close([1f, -1f, -1f, 102f * 2 / 255 - 1, 51f * 2 / 255 - 1, 1f], s.ToArray());
    }

    [Fact]
    public void Require_converts_by_the_stated_rules_and_refuses_the_rest_in_one_line()
    {
        var random = new Random(3);
        string rgb = PngTests.Temp("x.png");
        Png.Write(rgb, PngTests.Smooth(32, 32, 3, random));
        var e = Assert.Throws<InvalidDataException>(() => ImageFile.Require(rgb, 1, 28, 28));
        Assert.Equal($"--image {rgb}: 32×32 RGB, the model takes 28×28 greyscale", e.Message);
        e = Assert.Throws<InvalidDataException>(() => ImageFile.Require(rgb, 1, 32, 32, option: "--prompt-image"));
        Assert.StartsWith($"--prompt-image {rgb}: 32×32 RGB in colour (pixel (0, 0) is R,G,B = ", e.Message);
        Assert.Contains("the model takes 32×32 greyscale", e.Message);

        // Grey content saved as RGB is taken as grey; grey given to an RGB model is copied into three channels.
        var grey = PngTests.Smooth(5, 4, 1, random);
        var asRgb = new byte[grey.Pixels.Length * 3];
        for (int i = 0; i < grey.Pixels.Length; i++) asRgb[3 * i] = asRgb[3 * i + 1] = asRgb[3 * i + 2] = grey.Pixels[i];
        string greyPath = PngTests.Temp("grey.png"), greyRgbPath = PngTests.Temp("grey-rgb.png");
        Png.Write(greyPath, grey);
        Png.Write(greyRgbPath, new PixelImage(5, 4, 3, asRgb));
        using var a = ImageFile.Require(greyPath, 1, 4, 5);
        using var b = ImageFile.Require(greyRgbPath, 1, 4, 5);
        Assert.Equal([1, 1, 4, 5], b.Shape.ToArray());
        Assert.Equal(a.ToArray(), b.ToArray());
        Close(grey.Pixels.Select(p => p / 255f).ToArray(), a.ToArray());
        using var c = ImageFile.Require(greyPath, 3, 4, 5);
        Assert.Equal([1, 3, 4, 5], c.Shape.ToArray());
        Assert.Equal([.. a.ToArray(), .. a.ToArray(), .. a.ToArray()], c.ToArray());

        e = Assert.Throws<InvalidDataException>(() => ImageFile.Require(greyPath, 3, 28, 28));
        Assert.Equal($"--image {greyPath}: 5×4 greyscale, the model takes 28×28 RGB", e.Message);
        Assert.Throws<FileNotFoundException>(() => ImageFile.Require(greyPath + ".nope", 1, 4, 5));
    }
}
