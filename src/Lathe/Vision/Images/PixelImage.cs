namespace Lathe.Vision.Images;

/// <summary>An 8-bit image as files hold it: rows top to bottom, pixels left to right, channels interleaved —
/// (H, W, C) row-major, with C = 1 greyscale, 2 greyscale + alpha, 3 RGB, 4 RGBA.</summary>
public sealed class PixelImage
{
    public int Width { get; }
    public int Height { get; }
    public int Channels { get; }
    /// <summary>Height × Width × Channels bytes, (H, W, C) row-major.</summary>
    public byte[] Pixels { get; }

    public PixelImage(int width, int height, int channels, byte[] pixels)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"PixelImage: size {width}×{height} must be positive");
        if (channels is < 1 or > 4) throw new ArgumentException($"PixelImage: {channels} channels (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)");
        if (pixels.Length != (long)width * height * channels)
            throw new ArgumentException($"PixelImage: {pixels.Length} bytes do not make {width}×{height} with {channels} channels");
        Width = width; Height = height; Channels = channels; Pixels = pixels;
    }

    /// <summary>A blank (zero) image.</summary>
    public PixelImage(int width, int height, int channels) : this(width, height, channels, new byte[checked(width * height * channels)]) { }

    /// <summary>"greyscale", "greyscale+alpha", "RGB" or "RGBA".</summary>
    public string ChannelName => ChannelNameOf(Channels);

    /// <summary>The name of a channel count, as error messages say it.</summary>
    public static string ChannelNameOf(int channels) => channels switch
    {
        1 => "greyscale", 2 => "greyscale+alpha", 3 => "RGB", 4 => "RGBA", _ => $"{channels}-channel",
    };
}
