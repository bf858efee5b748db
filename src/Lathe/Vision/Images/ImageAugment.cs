using Lathe.Tensors;

namespace Lathe.Vision.Images;

/// <summary>Light training-time augmentation of a batch (N, C, H, W), in place: a random crop of the image padded by
/// <c>pad</c> zero pixels on every side (a shift of each image by dx, dy ∈ [−pad, pad], vacated pixels 0 — the usual
/// "random crop with padding" of CIFAR/Fashion-MNIST training), and a horizontal flip with probability ½. The draws come
/// from a seeded <see cref="Philox"/>, so a step's augmentation is the same on every run (and after a resume).</summary>
public static class ImageAugment
{
    /// <summary>Parses an --augment value: "none", "crop", "flip" or "crop-flip".</summary>
    public static (bool Crop, bool Flip) Parse(string value) => value switch
    {
        "none" => (false, false),
        "crop" => (true, false),
        "flip" => (false, true),
        "crop-flip" => (true, true),
        _ => throw new ArgumentException($"--augment '{value}' is not one of none, crop, flip, crop-flip"),
    };

    /// <summary>Shifts (when <paramref name="pad"/> &gt; 0) and flips (when <paramref name="flip"/>) each image of
    /// <paramref name="batch"/> with draws from <paramref name="rng"/>. <paramref name="scratch"/> holds at least one
    /// channel plane (H·W floats).</summary>
    public static void Apply(Tensor batch, int pad, bool flip, Philox rng, Span<float> scratch)
    {
        int N = batch.Dim(0), C = batch.Dim(1), H = batch.Dim(2), W = batch.Dim(3), plane = H * W;
        var data = batch.AsSpan();
        for (int n = 0; n < N; n++)
        {
            int dx = pad > 0 ? rng.NextInt(2 * pad + 1) - pad : 0, dy = pad > 0 ? rng.NextInt(2 * pad + 1) - pad : 0;
            bool mirror = flip && rng.NextInt(2) == 1;
            if (dx == 0 && dy == 0 && !mirror) continue;
            for (int c = 0; c < C; c++)
            {
                var img = data.Slice((n * C + c) * plane, plane);
                img.CopyTo(scratch);
                // out[y, x] = in[y + dy, x' + dx] with x' the (mirrored) column; outside the image: 0.
                for (int y = 0; y < H; y++)
                {
                    int sy = y + dy;
                    for (int x = 0; x < W; x++)
                    {
                        int sx = (mirror ? W - 1 - x : x) + dx;
                        img[y * W + x] = sy >= 0 && sy < H && sx >= 0 && sx < W ? scratch[sy * W + sx] : 0f;
                    }
                }
            }
        }
    }
}
