using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Architectures;

namespace Lathe.Vision.Nerf;

/// <summary>The held-out figures of a NeRF: each view rendered at the bin centres of its rays, its MSE against the
/// pixels and PSNR = −10 log₁₀ MSE (colours in [0, 1]).</summary>
public sealed record NerfViewScore(string File, double Mse, double Psnr);

/// <summary>The scores of every view of a split; <see cref="Psnr"/> is the mean of the views' PSNRs (as NeRF papers
/// report it), <see cref="Mse"/> the mean squared error over every pixel.</summary>
public sealed record NerfScore(IReadOnlyList<NerfViewScore> Views, double Mse, double Psnr);

/// <summary>Renders views of a scene with a NeRF and scores them.</summary>
public static class NerfEvaluation
{
    /// <summary>Rays rendered per pass.</summary>
    public const int Chunk = 1024;

    /// <summary>PSNR from a mean squared error of colours in [0, 1].</summary>
    public static double Psnr(double mse) => -10.0 * Math.Log10(mse);

    /// <summary>Renders the image <paramref name="camera"/> sees: (H, W, 3) floats, row-major.</summary>
    public static float[] Render(NerfModel model, NerfCamera camera)
    {
        int pixels = camera.Width * camera.Height;
        var origins = new float[pixels * 3];
        var directions = new float[pixels * 3];
        camera.Rays(origins, directions);
        var image = new float[pixels * 3];
        int chunk = Math.Min(Chunk, pixels);
        using var batch = new RayBatch(model.Config, chunk);
        using var tape = new Tape();
        for (int start = 0; start < pixels; start += chunk)
        {
            int n = Math.Min(chunk, pixels - start);
            // The last pass repeats its final ray to fill the batch; only the first n colours are kept.
            for (int r = 0; r < chunk; r++)
            {
                int src = (start + Math.Min(r, n - 1)) * 3;
                for (int c = 0; c < 3; c++) { batch.Origins[r * 3 + c] = origins[src + c]; batch.RayDirections[r * 3 + c] = directions[src + c]; }
            }
            batch.Prepare(null);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                model.Render(batch).AsSpan()[..(n * 3)].CopyTo(image.AsSpan(start * 3, n * 3));
        }
        tape.Reset();
        return image;
    }

    /// <summary>Renders every view of <paramref name="scene"/> and scores it against its pixels.</summary>
    public static NerfScore Evaluate(NerfModel model, NerfScene scene)
    {
        var views = new List<NerfViewScore>();
        double sumSq = 0, sumPsnr = 0;
        long count = 0;
        foreach (var view in scene.Views)
        {
            var image = Render(model, view.Camera);
            double sq = 0;
            for (int i = 0; i < image.Length; i++) { double d = image[i] - view.Pixels[i]; sq += d * d; }
            double mse = sq / image.Length;
            views.Add(new NerfViewScore(view.File, mse, Psnr(mse)));
            sumSq += sq; count += image.Length; sumPsnr += Psnr(mse);
        }
        return new NerfScore(views, sumSq / count, sumPsnr / views.Count);
    }
}
