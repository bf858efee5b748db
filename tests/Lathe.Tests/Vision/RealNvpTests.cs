using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision;
using Lathe.Vision.Architectures;
using Lathe.Vision.Data;
using Lathe.Vision.Training;
using static Lathe.Tests.Vision.GenerativeTestSupport;

namespace Lathe.Tests.Vision;

/// <summary>RealNVP against PyTorch (make_flow_fixtures.py: pre-processing and its Jacobian, z, a brute-force log|det J|,
/// log-density, bits/dim loss and every parameter's gradient), against its own inverse, against a log|det| computed here
/// from the autograd Jacobian and from finite differences, and a short run that must lower held-out bits/dim.</summary>
public class RealNvpTests
{
    static readonly RealNvpConfig Tiny = new() { Channels = 1, ImageSize = 4, Couplings = 4, Hidden = 6, Alpha = 0.05f };

    // The first 512 training images, read once for the class.
    static readonly Lazy<ImageSet> First512 = new(() => FashionMnist.Train().Take(512));

    static RealNvpModel FixtureModel()
    {
        var model = new RealNvpModel(Tiny);
        VisionCheckpoint.LoadWeights(Fixture("realnvp.model.safetensors"), model.Parameters);
        return model;
    }

    [Fact]
    public void Preprocessing_forward_log_density_loss_and_gradients_match_PyTorch()
    {
        using var model = FixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("realnvp.expected.safetensors"));
        int b = 3, d = model.Dimensions;
        byte[] pixels = expected.ReadFloats("pixels").Select(v => (byte)v).ToArray();
        var y = new float[b * d];
        var pre = new double[b];
        model.Preprocess(pixels, expected.ReadFloats("uniforms"), y, pre);
        AssertClose("y", expected.ReadFloats("y"), y, 1e-6);
        AssertClose("pre_logdet", expected.ReadFloats("pre_logdet"), pre.Select(v => (float)v).ToArray(), 1e-6);

        using var input = Tensor.FromArray(expected.ReadFloats("y"), b, d);
        input.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var (z, logDet) = model.Forward(input);
            AssertClose("z", expected.ReadFloats("z"), z.ToArray());
            AssertClose("logdet", expected.ReadFloats("logdet"), logDet.ToArray());
            AssertClose("log_density", expected.ReadFloats("log_density"), model.LogDensity(input).ToArray());
            var loss = FlowObjective.BitsPerDim(model, input, expected.ReadFloats("pre_logdet").Sum(v => (double)v));
            AssertClose("loss", expected.ReadFloats("loss"), [loss.Item()], 1e-5);
            tape.Backward(loss);
        }
        AssertClose("grad.y", expected.ReadFloats("grad.y"), input.Grad!.ToArray());
        foreach (var p in model.Parameters)
            AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray());
        Assert.Equal(expected.Entries.Keys.Count(k => k.StartsWith("grad.couplings.", StringComparison.Ordinal)), model.Parameters.Count);
    }

    [Fact]
    public void Loss_gradient_matches_finite_differences()
    {
        using var model = FixtureModel();
        using var expected = SafetensorsFile.Open(Fixture("realnvp.expected.safetensors"));
        using var y = Tensor.FromArray(expected.ReadFloats("y"), 3, model.Dimensions);
        using var tape = new Tape();
        Tensor Loss() => FlowObjective.BitsPerDim(model, y, 0);
        using (tape.Activate()) tape.Backward(Loss());
        foreach (var p in model.Parameters)
            CheckFiniteDifferences(p, p.Value.Grad!.ToArray(), () => Evaluate(tape, Loss));
    }

    [Fact]
    public void Inverse_undoes_forward()
    {
        using var model = FixtureModel();
        var rng = new Philox(3);
        using var y = Tensor.Zeros(5, model.Dimensions);
        rng.FillNormal(y.AsSpan(), 0, 2f);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var (z, _) = model.Forward(y);
            Assert.True(MaxDiff(y.AsSpan(), z.AsSpan()) > 0.1, "the random flow should move its input");
            var back = model.Inverse(z);
            Assert.True(MaxDiff(y.AsSpan(), back.AsSpan()) < 1e-4, $"inverse(forward(y)) is off by {MaxDiff(y.AsSpan(), back.AsSpan()):G3}");
            var forward = model.Forward(model.Inverse(y)).Z;
            Assert.True(MaxDiff(y.AsSpan(), forward.AsSpan()) < 1e-4, "forward(inverse(z)) is not z");
        }
    }

    static double MaxDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }

    [Fact]
    public void Log_determinant_equals_brute_force_Jacobian()
    {
        using var model = FixtureModel();
        int d = model.Dimensions, b = 2;
        var rng = new Philox(11);
        using var y = Tensor.Zeros(b, d);
        rng.FillNormal(y.AsSpan());
        y.RequiresGrad = true;
        using var tape = new Tape();
        float[] logDet;
        using (tape.Activate()) using (Tape.NoGrad()) logDet = model.Forward(y).LogDet.ToArray();

        // Autograd: row i of image n's Jacobian is the gradient of z[n, i] (the other image's rows must stay zero).
        using var pick = Tensor.Zeros(b, d);
        for (int n = 0; n < b; n++)
        {
            var jacobian = new double[d * d];
            for (int i = 0; i < d; i++)
            {
                pick.AsSpan().Clear();
                pick.AsSpan()[n * d + i] = 1f;
                y.ZeroGrad();
                tape.Reset();
                using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Mul(model.Forward(y).Z, pick)));
                var g = y.Grad!.AsSpan();
                for (int j = 0; j < d; j++) jacobian[i * d + j] = g[n * d + j];
                for (int j = 0; j < d; j++) Assert.Equal(0f, g[(1 - n) * d + j]);
            }
            double brute = LogAbsDeterminant(jacobian, d);
            Assert.True(Math.Abs(brute - logDet[n]) < 1e-4 * (1 + Math.Abs(brute)), $"image {n}: log|det J| {brute:R} by autograd, {logDet[n]:R} from the couplings");
        }

        // Central finite differences of the forward (float32, step 1e-2): an oracle that uses no backward at all.
        for (int n = 0; n < b; n++)
        {
            var jacobian = new double[d * d];
            var data = y.AsSpan();
            for (int j = 0; j < d; j++)
            {
                float saved = data[n * d + j];
                data[n * d + j] = saved + 1e-2f; var plus = Z(model, tape, y, n);
                data[n * d + j] = saved - 1e-2f; var minus = Z(model, tape, y, n);
                data[n * d + j] = saved;
                for (int i = 0; i < d; i++) jacobian[i * d + j] = (plus[i] - (double)minus[i]) / 2e-2;
            }
            double numeric = LogAbsDeterminant(jacobian, d);
            Assert.True(Math.Abs(numeric - logDet[n]) < 2e-3 * (1 + Math.Abs(numeric)), $"image {n}: log|det J| {numeric:R} by finite differences, {logDet[n]:R} from the couplings");
        }
    }

    static float[] Z(RealNvpModel model, Tape tape, Tensor y, int n)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var z = model.Forward(y).Z.ToArray();
            return z.AsSpan(n * model.Dimensions, model.Dimensions).ToArray();
        }
    }

    [Fact]
    public void Masks_alternate_checkerboard_and_rows_with_complements()
    {
        var c = Tiny;
        float[] m0 = RealNvpModel.MaskOf(c, 0), m1 = RealNvpModel.MaskOf(c, 1), m2 = RealNvpModel.MaskOf(c, 2), m3 = RealNvpModel.MaskOf(c, 3);
        Assert.Equal([1f, 0f, 1f, 0f, 0f, 1f, 0f, 1f], m0[..8]);
        Assert.Equal([1f, 1f, 1f, 1f, 0f, 0f, 0f, 0f], m2[..8]);
        for (int i = 0; i < m0.Length; i++) { Assert.Equal(1f, m0[i] + m1[i]); Assert.Equal(1f, m2[i] + m3[i]); }
        Assert.Equal(m0, RealNvpModel.MaskOf(c, 4));
    }

    [Fact]
    public void Short_run_lowers_held_out_bits_per_dimension()
    {
        Assert.True(FashionMnist.IsInstalled(), "Debian's dataset-fashion-mnist is not installed (scripts/test installs it)");
        var train = First512.Value;
        var test = FashionMnist.Test().Take(200);
        using var model = new RealNvpModel(new RealNvpConfig { Couplings = 4, Hidden = 64 }, seed: 5);
        double before = FlowObjective.Evaluate(model, test);
        var options = new VisionTrainingOptions { Steps = 40, BatchSize = 32, LearningRate = 2e-3f, WarmupSteps = 2, WeightDecay = 0, Seed = 3 };
        using (var run = new FlowTrainingRun(model, train, options, runDir: null))
            for (int i = 0; i < options.Steps; i++) Assert.True(float.IsFinite(run.Step()));
        double after = FlowObjective.Evaluate(model, test);
        // The identity flow (zero-initialised couplings) scores the logit-space images under N(0, I); 40 small steps must
        // win a clear margin on images the run never saw.
        Assert.True(after < before - 0.5, $"held-out bits/dim went from {before:F3} to {after:F3}");
    }

    [Fact]
    public void Same_seed_gives_same_bits_and_samples_are_images()
    {
        var train = First512.Value.Take(64);
        float[] Run()
        {
            using var model = new RealNvpModel(new RealNvpConfig { Couplings = 2, Hidden = 16 }, seed: 9);
            var options = new VisionTrainingOptions { Steps = 3, BatchSize = 8, LearningRate = 1e-3f, WarmupSteps = 0, Seed = 4 };
            using (var run = new FlowTrainingRun(model, train, options, null))
                for (int i = 0; i < 3; i++) run.Step();
            var samples = model.Sample(3, seed: 1);
            Assert.Equal(3 * 784, samples.Length);
            return model.Parameters.SelectMany(p => p.Value.ToArray()).Concat(samples.Select(v => (float)v)).ToArray();
        }
        Assert.Equal(Run(), Run());
    }

    [Fact]
    public void Checkpoint_round_trips_and_bad_images_are_named()
    {
        string dir = Directory.CreateTempSubdirectory("lathe-flow").FullName;
        using var model = FixtureModel();
        VisionCheckpoint.Save(dir, model);
        using var loaded = VisionCheckpoint.Load<RealNvpModel>(dir, "a flow");
        Assert.Equal(Tiny, loaded.Config);
        for (int i = 0; i < model.Parameters.Count; i++) Assert.Equal(model.Parameters[i].Value.ToArray(), loaded.Parameters[i].Value.ToArray());
        var wrong = new ImageSet(new byte[2 * 9], [0, 1], 1, 3, 3, ["a", "b"]);
        var e = Assert.Throws<ArgumentException>(() => FlowObjective.Evaluate(model, wrong));
        Assert.Contains("3×3", e.Message);
    }
}
