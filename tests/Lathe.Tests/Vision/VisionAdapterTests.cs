using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Vision.Layers;
using static Lathe.Tests.Vision.CaptionerTestSupport;

namespace Lathe.Tests.Vision;

/// <summary>The captioner's adapters (linear, LLaVA-1.5 MLP, one-block resampler) against PyTorch on fixed weights —
/// output and the gradient of every tensor and of the vision tokens — and against finite differences.</summary>
public class VisionAdapterTests
{
    static (VisionAdapter Adapter, List<ModelParameter> Parameters) Build(string kind, int dv = 12, int c = 16, int k = 3, int h = 4, ulong seed = 1)
    {
        var p = new ParameterBuilder(seed);
        var adapter = new VisionAdapter(p, "multi_modal_projector", new VisionAdapterConfig { Kind = kind, InputDim = dv, OutputDim = c, Queries = k, Heads = h });
        return (adapter, p.Parameters);
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("mlp")]
    [InlineData("resampler")]
    public void Matches_PyTorch_output_and_gradients(string kind)
    {
        using var file = SafetensorsFile.Open(Fixture($"adapter_{kind}.safetensors"));
        var (adapter, parameters) = Build(kind);
        SetParameters(file, parameters);
        using var x = Load(file, "x");
        using var w = Load(file, "w");
        x.RequiresGrad = true;
        using var tape = new Tape();
        using (tape.Activate())
        {
            var y = adapter.Forward(x);
            Assert.Equal(file.Entries["y"].Shape.Select(d => (int)d).ToArray(), y.Shape.ToArray());
            Close(file.ReadFloats("y"), y.ToArray(), 2e-5f, "y");
            tape.Backward(Ops.SumAll(Ops.Mul(y, w)));
        }
        Close(file.ReadFloats("grad.x"), x.Grad!.ToArray(), 1e-4f, "grad.x");
        foreach (var p in parameters) Close(Gradient(file, p), p.Value.Grad!.ToArray(), 1e-4f, "grad." + p.Name);
        Assert.Equal(file.Entries.Keys.Count(n => n.StartsWith("multi_modal_projector", StringComparison.Ordinal)), parameters.Count);
        foreach (var p in parameters) p.Value.Dispose();
    }

    [Theory]
    [InlineData("linear")]
    [InlineData("mlp")]
    [InlineData("resampler")]
    public void Gradients_match_finite_differences(string kind)
    {
        var (adapter, parameters) = Build(kind, dv: 6, c: 8, k: 2, h: 2, seed: 3);
        var rng = new Philox(5);
        foreach (var p in parameters) rng.FillNormal(p.Value.AsSpan(), 0, 0.5f);   // non-trivial norms and biases too
        using var x = Tensor.Zeros(2, 3, 6);
        rng.FillNormal(x.AsSpan(), 0, 1);
        int outTokens = adapter.OutputTokens(3);
        using var w = Tensor.Zeros(2, outTokens, 8);
        rng.FillNormal(w.AsSpan(), 0, 1);
        var inputs = new List<(string, Tensor)> { ("x", x) };
        inputs.AddRange(parameters.Select(p => (p.Name, p.Value)));
        FiniteDifferences(() => Ops.SumAll(Ops.Mul(adapter.Forward(x), w)), inputs);
        foreach (var p in parameters) p.Value.Dispose();
    }

    [Fact]
    public void Resampler_gives_K_tokens_and_bad_configs_are_named()
    {
        var (adapter, parameters) = Build("resampler", k: 5);
        Assert.Equal(5, adapter.OutputTokens(49));
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        using (var x = Tensor.Zeros(3, 7, 12))
            Assert.Equal([3, 5, 16], adapter.Forward(x).Shape.ToArray());
        foreach (var p in parameters) p.Value.Dispose();
        Assert.Contains("--adapter 'conv'", Assert.Throws<ArgumentException>(() => Build("conv")).Message);
        Assert.Contains("divide", Assert.Throws<ArgumentException>(() => Build("resampler", c: 16, h: 3)).Message);
        var (mlp, mp) = Build("mlp");
        using (var bad = Tensor.Zeros(1, 4, 10))
            Assert.Contains("(N, T, 12)", Assert.Throws<ArgumentException>(() => mlp.Forward(bad)).Message);
        foreach (var p in mp) p.Value.Dispose();
    }
}
