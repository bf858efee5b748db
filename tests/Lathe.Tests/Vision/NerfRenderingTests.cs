using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Nerf;

namespace Lathe.Tests.Vision;

/// <summary>The pieces of NeRF against independent references: camera rays against the scene script's own ray
/// generator, the loaded views against the script's renderer, positional encoding against numpy, and the volume
/// renderer's weights, colour and gradients against PyTorch float64 and against finite differences.</summary>
public class NerfRenderingTests
{
    static readonly Lazy<NerfScene> Train = new(() => NerfScene.Load(NerfFixture.SceneFolder, "train"));
    static readonly Lazy<NerfScene> Test = new(() => NerfScene.Load(NerfFixture.SceneFolder, "test"));

    static NerfView View(string split, int index) => (split == "train" ? Train : Test).Value.Views[index];

    [Fact]
    public void SceneHasTheScriptsViews()
    {
        Assert.Equal(40, Train.Value.Views.Count);
        Assert.Equal(8, Test.Value.Views.Count);
        Assert.Equal((40, 40), (Train.Value.Width, Train.Value.Height));
        Assert.Equal(0.6911112070083618, Train.Value.Views[0].Camera.CameraAngleX);
    }

    [Fact]
    public void RaysMatchTheSceneScript()
    {
        foreach (var ray in NerfFixture.Get("rays").AsArray())
        {
            var camera = View(ray!["split"]!.GetValue<string>(), ray["view"]!.GetValue<int>()).Camera;
            int i = ray["column"]!.GetValue<int>(), j = ray["row"]!.GetValue<int>();
            var o = NerfFixture.Doubles(ray["origin"]!);
            var d = NerfFixture.Doubles(ray["direction"]!);
            var (ox, oy, oz) = camera.Origin;
            var (dx, dy, dz) = camera.Direction(i, j);
            double[] got = [ox, oy, oz, dx, dy, dz], want = [.. o, .. d];
            for (int k = 0; k < 6; k++) Assert.True(Math.Abs(got[k] - want[k]) < 1e-7, $"{ray["split"]} view {ray["view"]} pixel ({i},{j}) component {k}: {got[k]} vs script {want[k]}");
            // The all-pixels form agrees with the per-pixel one.
            var origins = new float[40 * 40 * 3];
            var directions = new float[40 * 40 * 3];
            camera.Rays(origins, directions);
            int p = (j * 40 + i) * 3;
            Assert.Equal((float)dx, directions[p]); Assert.Equal((float)dz, directions[p + 2]); Assert.Equal((float)oy, origins[p + 1]);
        }
    }

    [Fact]
    public void PixelsMatchTheSceneScript()
    {
        foreach (var px in NerfFixture.Get("pixels").AsArray())
        {
            var view = View(px!["split"]!.GetValue<string>(), px["view"]!.GetValue<int>());
            int k = (px["row"]!.GetValue<int>() * 40 + px["column"]!.GetValue<int>()) * 3;
            NerfFixture.Close("pixel", NerfFixture.Floats(px["rgb"]!), view.Pixels[k..(k + 3)], 1e-6f);
        }
    }

    [Fact]
    public void PositionalEncodingMatchesNumpyAndTheFormula()
    {
        var e = NerfFixture.Get("encoding");
        var points = NerfFixture.Floats(e["points"]!);
        int L = e["frequencies"]!.GetValue<int>();
        float scale = (float)e["scale"]!.GetValue<double>();
        var features = new float[5 * PositionalEncoding.Width(L)];
        PositionalEncoding.Encode(points, L, scale, features);
        NerfFixture.Close("γ(p)", NerfFixture.Floats(e["features"]!), features, 1e-6f);
        // The formula, element by element: feature 3 + 6k + c is sin(2^k π s p_c), 6 + 6k + c its cosine.
        for (int n = 0; n < 5; n++)
            for (int k = 0; k < L; k++)
                for (int c = 0; c < 3; c++)
                {
                    double arg = Math.Pow(2, k) * Math.PI * scale * points[n * 3 + c];
                    Assert.Equal(Math.Sin(arg), features[n * 33 + 3 + 6 * k + c], 5);
                    Assert.Equal(Math.Cos(arg), features[n * 33 + 6 + 6 * k + c], 5);
                }
    }

    [Fact]
    public void StratifiedSamplesStayInTheirBins()
    {
        float[] o = [0, 0, 0, 1, 2, 3], d = [1, 0, 0, 0, 0.6f, 0.8f];
        const int S = 16;
        var t = new float[2 * S];
        var delta = new float[2 * S];
        var p = new float[2 * S * 3];
        RaySampler.Sample(o, d, S, 2f, 6f, new Philox(5), t, delta, p);
        for (int r = 0; r < 2; r++)
            for (int i = 0; i < S; i++)
            {
                float ti = t[r * S + i];
                Assert.InRange(ti, 2f + i * 0.25f, 2f + (i + 1) * 0.25f);
                Assert.Equal(i < S - 1 ? t[r * S + i + 1] - ti : 6f - ti, delta[r * S + i], 6);
                for (int c = 0; c < 3; c++) Assert.Equal(o[r * 3 + c] + ti * d[r * 3 + c], p[(r * S + i) * 3 + c], 5);
            }
        RaySampler.Sample(o, d, S, 2f, 6f, null, t, delta, p);
        Assert.Equal(2.125f, t[0]);
        Assert.Equal(5.875f, t[S - 1]);
    }

    [Fact]
    public void VolumeRenderingMatchesPyTorch()
    {
        var f = NerfFixture.Get("render");
        int R = f["rays"]!.GetValue<int>(), S = f["samples"]!.GetValue<int>();
        using var sigma = Tensor.FromArray(NerfFixture.Floats(f["sigma"]!), R, S);
        using var rgb = Tensor.FromArray(NerfFixture.Floats(f["rgb"]!), R, S, 3);
        using var delta = Tensor.FromArray(NerfFixture.Floats(f["delta"]!), R, S);
        using var background = Tensor.FromArray(NerfFixture.Floats(f["background"]!), 3);
        using var upstream = Tensor.FromArray(NerfFixture.Floats(f["upstream"]!), R, 3);
        sigma.RequiresGrad = true; rgb.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            NerfFixture.Close("weights", NerfFixture.Floats(f["weights"]!), VolumeRenderer.Weights(sigma, delta).ToArray(), 1e-5f);
            var colour = VolumeRenderer.Composite(sigma, rgb, delta, background);
            NerfFixture.Close("colour", NerfFixture.Floats(f["colour"]!), colour.ToArray(), 1e-5f);
            tape.Backward(colour, upstream);
        }
        NerfFixture.Close("dColour/dσ", NerfFixture.Floats(f["grad_sigma"]!), sigma.Grad!.ToArray(), 5e-5f);
        NerfFixture.Close("dColour/dc", NerfFixture.Floats(f["grad_rgb"]!), rgb.Grad!.ToArray(), 5e-5f);
    }

    [Fact]
    public void VolumeRenderingGradientsMatchFiniteDifferences()
    {
        const int R = 2, S = 5;
        var rng = new Random(3);
        float[] Rand(int n, float lo, float hi) => Enumerable.Range(0, n).Select(_ => lo + (float)rng.NextDouble() * (hi - lo)).ToArray();
        using var sigma = Tensor.FromArray(Rand(R * S, 0f, 2f), R, S);
        using var rgb = Tensor.FromArray(Rand(R * S * 3, 0f, 1f), R, S, 3);
        using var delta = Tensor.FromArray(Rand(R * S, 0.2f, 0.6f), R, S);
        using var background = Tensor.FromArray([0.3f, 0.6f, 0.9f], 3);
        var up = Rand(R * 3, -1f, 1f);
        using var upstream = Tensor.FromArray(up, R, 3);
        sigma.RequiresGrad = true; rgb.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
            tape.Backward(Ops.SumAll(Ops.Mul(VolumeRenderer.Composite(sigma, rgb, delta, background), upstream)));
        double Loss()
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var c = VolumeRenderer.Composite(sigma, rgb, delta, background).ToArray();
                double s = 0;
                for (int i = 0; i < c.Length; i++) s += (double)c[i] * up[i];
                return s;
            }
        }
        foreach (var x in new[] { sigma, rgb })
        {
            var analytic = x.Grad!.ToArray();
            var data = x.AsSpan();
            const float eps = 1e-2f;
            for (int i = 0; i < x.Length; i++)
            {
                float saved = data[i];
                data[i] = saved + eps; double plus = Loss();
                data[i] = saved - eps; double minus = Loss();
                data[i] = saved;
                double numeric = (plus - minus) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 * (1 + Math.Abs(numeric)), $"element {i}: analytic {analytic[i]}, numeric {numeric}");
            }
        }
    }

    [Fact]
    public void PsnrIsMinusTenLogMse()
    {
        Assert.Equal(20.0, NerfEvaluation.Psnr(0.01), 12);
        Assert.Equal(40.0, NerfEvaluation.Psnr(1e-4), 12);
    }
}
