using Lathe.Vision.Architectures;
using Lathe.Vision.Images;

namespace Lathe.Vision.Nerf;

/// <summary>Pictures of a fitted NeRF: a view as rendered, and ground truth | render pairs of several views, one pair
/// per row, scaled up by an integer factor (nearest neighbour) with a white gap between images.</summary>
public static class NerfImages
{
    /// <summary>(H, W, 3) floats in [0, 1] → an 8-bit RGB image.</summary>
    public static PixelImage ToImage(float[] pixels, int width, int height)
    {
        var bytes = new byte[width * height * 3];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = ToByte(pixels[i]);
        return new PixelImage(width, height, 3, bytes);
    }

    /// <summary>One row per view in <paramref name="views"/>: its ground truth, then the model's render.</summary>
    public static PixelImage Compare(NerfModel model, NerfScene scene, IReadOnlyList<int> views, int upscale = 4, int gap = 4)
    {
        if (upscale < 1) throw new ArgumentException($"--upscale {upscale} must be at least 1");
        int w = scene.Width * upscale, h = scene.Height * upscale;
        int width = 2 * w + 3 * gap, height = views.Count * (h + gap) + gap;
        var bytes = new byte[width * height * 3];
        Array.Fill(bytes, (byte)255);
        for (int row = 0; row < views.Count; row++)
        {
            var view = scene.Views[views[row]];
            var render = NerfEvaluation.Render(model, view.Camera);
            int y0 = gap + row * (h + gap);
            Blit(view.Pixels, scene.Width, scene.Height, upscale, bytes, width, gap, y0);
            Blit(render, scene.Width, scene.Height, upscale, bytes, width, 2 * gap + w, y0);
        }
        return new PixelImage(width, height, 3, bytes);
    }

    static void Blit(float[] pixels, int w, int h, int upscale, byte[] dst, int dstWidth, int x0, int y0)
    {
        for (int y = 0; y < h * upscale; y++)
            for (int x = 0; x < w * upscale; x++)
                for (int c = 0; c < 3; c++)
                    dst[((y0 + y) * dstWidth + x0 + x) * 3 + c] = ToByte(pixels[((y / upscale) * w + x / upscale) * 3 + c]);
    }

    static byte ToByte(float v) => (byte)Math.Clamp(MathF.Round(v * 255f), 0f, 255f);
}
