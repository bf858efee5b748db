using Lathe.Tensors;

namespace Lathe.Vision.Data;

/// <summary>Labelled images held as bytes, N × (C, H, W) row-major, with their class names. Batches are made as float
/// tensors (N, C, H, W) scaled to [0, 1] or [−1, 1].</summary>
public sealed class ImageSet
{
    public byte[] Pixels { get; }
    public int[] Labels { get; }
    public int Count { get; }
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public IReadOnlyList<string> ClassNames { get; }
    public int PixelsPerImage => Channels * Height * Width;

    public ImageSet(byte[] pixels, int[] labels, int channels, int height, int width, IReadOnlyList<string> classNames)
    {
        if (pixels.Length != (long)labels.Length * channels * height * width)
            throw new ArgumentException($"ImageSet: {pixels.Length} pixel bytes do not make {labels.Length} images of {channels}×{height}×{width}");
        Pixels = pixels; Labels = labels; Count = labels.Length;
        Channels = channels; Height = height; Width = width; ClassNames = classNames;
    }

    /// <summary>Image <paramref name="i"/>'s bytes.</summary>
    public ReadOnlySpan<byte> Image(int i) => Pixels.AsSpan(i * PixelsPerImage, PixelsPerImage);

    /// <summary>Fills <paramref name="batch"/> (n, C, H, W) with the images at <paramref name="indices"/>, scaled to [0, 1]
    /// or, when <paramref name="symmetric"/>, to [−1, 1].</summary>
    public void Fill(Tensor batch, ReadOnlySpan<int> indices, bool symmetric = false)
    {
        if (batch.Length != indices.Length * PixelsPerImage)
            throw new ArgumentException($"ImageSet.Fill: batch {Tensor.ShapeString(batch.Shape)} does not hold {indices.Length} images of {Channels}×{Height}×{Width}");
        var dst = batch.AsSpan();
        float scale = symmetric ? 2f / 255f : 1f / 255f, shift = symmetric ? -1f : 0f;
        for (int b = 0; b < indices.Length; b++)
        {
            var src = Image(indices[b]);
            var row = dst.Slice(b * PixelsPerImage, PixelsPerImage);
            for (int j = 0; j < src.Length; j++) row[j] = src[j] * scale + shift;
        }
    }

    /// <summary>A new tensor (n, C, H, W) holding the images at <paramref name="indices"/>.</summary>
    public Tensor Batch(ReadOnlySpan<int> indices, bool symmetric = false)
    {
        var t = Tensor.Empty(indices.Length, Channels, Height, Width);
        Fill(t, indices, symmetric);
        return t;
    }

    /// <summary>The first <paramref name="n"/> images (a quick subset for tests and smoke runs).</summary>
    public ImageSet Take(int n)
    {
        n = Math.Min(n, Count);
        return new ImageSet(Pixels.AsSpan(0, n * PixelsPerImage).ToArray(), Labels.AsSpan(0, n).ToArray(), Channels, Height, Width, ClassNames);
    }
}
