using Lathe.Tensors;

namespace Lathe.Vision.Images;

/// <summary>Tiles a batch of images (N, C, H, W), C = 1 or 3, into one picture: rows of <c>columns</c> images, each
/// enlarged by an integer factor (nearest neighbour), with a <c>gap</c>-pixel border of one colour around and between
/// them — how the docs show samples.</summary>
public static class SampleGrid
{
    /// <summary>The grid as an 8-bit image. Values map linearly from [<paramref name="low"/>, <paramref name="high"/>] to
    /// 0–255 (rounded; outside values clamp, NaN becomes 0). <paramref name="columns"/> 0 means ⌈√N⌉.</summary>
    public static PixelImage Tile(Tensor images, float low = 0f, float high = 1f, int columns = 0, int gap = 2, int scale = 1, byte background = 255)
    {
        if (images.Rank != 4) throw new ArgumentException($"SampleGrid: images must be (N, C, H, W), got {Tensor.ShapeString(images.Shape)}");
        int n = images.Dim(0), c = images.Dim(1), h = images.Dim(2), w = images.Dim(3);
        if (n == 0) throw new ArgumentException("SampleGrid: no images");
        if (c is not (1 or 3)) throw new ArgumentException($"SampleGrid: {c} channels (1 grey or 3 RGB)");
        if (!(high > low)) throw new ArgumentException($"SampleGrid: range [{low}, {high}] is empty");
        if (gap < 0 || scale < 1) throw new ArgumentException($"SampleGrid: gap {gap} must be ≥ 0 and scale {scale} ≥ 1");
        if (columns <= 0) columns = (int)Math.Ceiling(Math.Sqrt(n));
        columns = Math.Min(columns, n);
        int rows = (n + columns - 1) / columns;
        int cellW = w * scale, cellH = h * scale;
        int gridW = checked(columns * (cellW + gap) + gap), gridH = checked(rows * (cellH + gap) + gap);
        var grid = new PixelImage(gridW, gridH, c);
        grid.Pixels.AsSpan().Fill(background);

        float[] values = images.ToArray();   // (N, C, H, W) row-major, whatever the tensor's strides
        float k = 255f / (high - low);
        var dst = grid.Pixels;
        for (int i = 0; i < n; i++)
        {
            int x0 = gap + (i % columns) * (cellW + gap), y0 = gap + (i / columns) * (cellH + gap);
            for (int ch = 0; ch < c; ch++)
            {
                int plane = (i * c + ch) * h * w;
                for (int y = 0; y < cellH; y++)
                {
                    int srcRow = plane + (y / scale) * w;
                    int dstRow = ((y0 + y) * gridW + x0) * c + ch;
                    for (int x = 0; x < cellW; x++) dst[dstRow + x * c] = ToByte(values[srcRow + x / scale], low, k);
                }
            }
        }
        return grid;
    }

    /// <summary>Tiles <paramref name="images"/> (see <see cref="Tile"/>) and writes the grid as a PNG, atomically.</summary>
    public static PixelImage Write(string path, Tensor images, float low = 0f, float high = 1f, int columns = 0, int gap = 2, int scale = 1, byte background = 255)
    {
        var grid = Tile(images, low, high, columns, gap, scale, background);
        Png.Write(path, grid);
        return grid;
    }

    static byte ToByte(float v, float low, float k)
    {
        float s = (v - low) * k;
        if (!(s > 0f)) return 0;          // also NaN
        if (s >= 255f) return 255;
        return (byte)MathF.Round(s, MidpointRounding.AwayFromZero);
    }
}
