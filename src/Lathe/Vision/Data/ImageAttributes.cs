namespace Lathe.Vision.Data;

/// <summary>Attributes of the object in a greyscale image, computed from its pixels alone and deterministically — what
/// the captions of CLIP and the captioner describe beside the class. The object is the set of pixels above
/// <see cref="MaskThreshold"/>; every comparison is done in integers (e.g. sum &lt; cut × count), so the Python twin
/// scripts/data/fashion_attributes.py agrees bit for bit.</summary>
/// <remarks>The cut points are the terciles of Fashion-MNIST's 60,000 training images (texture: their median), from
/// <c>/usr/bin/python3 scripts/data/fashion_attributes.py --derive</c>: mean brightness 145.85 / 184.94 → 146 / 185;
/// object pixels 280 / 419; bounding-box height ÷ width 0.929 / 1.400 → 0.93 / 1.40; mean horizontal |difference|
/// 27.56 → 28. They split the training set into 20,063 / 19,971 / 19,966 (dark / mid-tone / light), 19,966 / 19,882 /
/// 20,152 (small / medium / large), 20,457 / 18,933 / 20,610 (wide / square / tall) and 31,129 / 28,871 (plain /
/// patterned).</remarks>
public readonly record struct ImageAttributes(Brightness Brightness, ObjectSize Size, BoxShape Shape, Texture Texture)
{
    /// <summary>A pixel belongs to the object when its value (0..255) exceeds this.</summary>
    public const int MaskThreshold = 32;
    /// <summary>Mean object brightness: dark below the first, light from the second.</summary>
    public const int BrightnessMid = 146, BrightnessLight = 185;
    /// <summary>Object pixel count: small below the first, large from the second (of 784 for 28×28).</summary>
    public const int SizeMedium = 280, SizeLarge = 419;
    /// <summary>Bounding-box height ÷ width in hundredths: wide below the first, tall from the second.</summary>
    public const int AspectSquareHundredths = 93, AspectTallHundredths = 140;
    /// <summary>Mean |p[y,x+1] − p[y,x]| over horizontally adjacent object pixels: patterned from this.</summary>
    public const int TexturePatterned = 28;

    /// <summary>The raw integer measures of one image: object pixel count and sum, bounding box height and width,
    /// the sum of horizontal absolute differences and the number of pairs it is over.</summary>
    public readonly record struct Measures(int Count, long Sum, int Height, int Width, long GradientSum, int Pairs);

    /// <summary>Measures one (H, W) greyscale image held row-major.</summary>
    public static Measures Measure(ReadOnlySpan<byte> pixels, int height, int width)
    {
        if (pixels.Length != height * width) throw new ArgumentException($"ImageAttributes: {pixels.Length} pixels are not {height}×{width}");
        int count = 0, pairs = 0, top = height, bottom = -1, left = width, right = -1;
        long sum = 0, gradient = 0;
        for (int y = 0; y < height; y++)
        {
            var row = pixels.Slice(y * width, width);
            for (int x = 0; x < width; x++)
            {
                int p = row[x];
                if (p <= MaskThreshold) continue;
                count++; sum += p;
                if (y < top) top = y;
                if (y > bottom) bottom = y;
                if (x < left) left = x;
                if (x > right) right = x;
                if (x + 1 < width && row[x + 1] > MaskThreshold) { gradient += Math.Abs(row[x + 1] - p); pairs++; }
            }
        }
        int h = bottom < 0 ? 0 : bottom - top + 1, w = right < 0 ? 0 : right - left + 1;
        return new Measures(count, sum, h, w, gradient, pairs);
    }

    /// <summary>The attributes that <paramref name="m"/> fall into.</summary>
    public static ImageAttributes From(Measures m)
    {
        // An empty frame (no Fashion-MNIST image is one) would fall on the upper side of every cut; name it plainly.
        if (m.Count == 0) return new ImageAttributes(Brightness.Dark, ObjectSize.Small, BoxShape.Square, Texture.Plain);
        var b = m.Sum < (long)BrightnessMid * m.Count ? Brightness.Dark : m.Sum < (long)BrightnessLight * m.Count ? Brightness.MidTone : Brightness.Light;
        var s = m.Count < SizeMedium ? ObjectSize.Small : m.Count < SizeLarge ? ObjectSize.Medium : ObjectSize.Large;
        var sh = 100 * m.Height < AspectSquareHundredths * m.Width ? BoxShape.Wide : 100 * m.Height < AspectTallHundredths * m.Width ? BoxShape.Square : BoxShape.Tall;
        var t = m.GradientSum < (long)TexturePatterned * m.Pairs ? Texture.Plain : Texture.Patterned;
        return new ImageAttributes(b, s, sh, t);
    }

    /// <summary>The attributes of one (H, W) greyscale image.</summary>
    public static ImageAttributes Of(ReadOnlySpan<byte> pixels, int height, int width) => From(Measure(pixels, height, width));

    /// <summary>The attributes of image <paramref name="index"/> of a single-channel set.</summary>
    public static ImageAttributes Of(ImageSet set, int index)
    {
        if (set.Channels != 1) throw new ArgumentException($"ImageAttributes: images need 1 channel, this set has {set.Channels}");
        return Of(set.Image(index), set.Height, set.Width);
    }

    /// <summary>The attributes of every image of <paramref name="set"/>.</summary>
    public static ImageAttributes[] OfAll(ImageSet set)
    {
        var all = new ImageAttributes[set.Count];
        for (int i = 0; i < all.Length; i++) all[i] = Of(set, i);
        return all;
    }

    /// <summary>The words captions use: "dark"/"mid-tone"/"light", "small"/"medium"/"large", "wide"/"square"/"tall",
    /// "plain"/"patterned".</summary>
    public static readonly string[] BrightnessWords = ["dark", "mid-tone", "light"], SizeWords = ["small", "medium", "large"],
        ShapeWords = ["wide", "square", "tall"], TextureWords = ["plain", "patterned"];

    public string BrightnessWord => BrightnessWords[(int)Brightness];
    public string SizeWord => SizeWords[(int)Size];
    public string ShapeWord => ShapeWords[(int)Shape];
    public string TextureWord => TextureWords[(int)Texture];
}

public enum Brightness { Dark, MidTone, Light }
public enum ObjectSize { Small, Medium, Large }
public enum BoxShape { Wide, Square, Tall }
public enum Texture { Plain, Patterned }
