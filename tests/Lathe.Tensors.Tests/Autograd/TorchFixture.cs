using Lathe.Formats;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>A safetensors file of PyTorch reference values (a generator script in Fixtures/ writes it: float64
/// reference from float32 inputs) and the check every op fixture test makes: run the op on the named inputs under a
/// tape, back-propagate the fixture's upstream gradient, compare the output and each input's gradient.</summary>
internal sealed class TorchFixture(string file)
{
    // Float32 kernels against a float64 reference: outputs within 1e-5 relative (a few ulps compounded over a
    // reduction of ≤ 1000 terms); gradients within 5e-5 (one more reduction in the backward).
    public const float OutputTolerance = 1e-5f;
    public const float GradientTolerance = 5e-5f;

    public SafetensorsFile File { get; } = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", file));

    public Tensor Load(string name, bool requiresGrad = true)
    {
        var e = File.Get(name);
        var t = Tensor.FromArray(File.ReadFloats(name), e.Shape.Select(d => (int)d).ToArray());
        t.RequiresGrad = requiresGrad;
        return t;
    }

    public void Check(string name, string[] inputs, Func<Tensor[], Tensor> op)
    {
        var xs = inputs.Select(i => Load($"{name}.{i}")).ToArray();
        using var tape = new Tape();
        float[] y;
        using (tape.Activate())
        {
            var result = op(xs);
            y = result.ToArray();
            using var up = Load($"{name}.upstream", false);
            if (result.Length == 1) tape.Backward(result, up.ToArray()[0]);
            else tape.Backward(result, Ops.Reshape(up, result.Shape));
        }
        Close($"{name}.y", File.ReadFloats($"{name}.y"), y, OutputTolerance);
        for (int i = 0; i < inputs.Length; i++)
            Close($"{name}.grad_{inputs[i]}", File.ReadFloats($"{name}.grad_{inputs[i]}"), xs[i].Grad!.ToArray(), GradientTolerance);
        foreach (var x in xs) x.Dispose();
    }

    public static void Close(string what, float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * (1 + Math.Abs(expected[i])),
                $"{what}[{i}]: {actual[i]} vs PyTorch {expected[i]}");
    }
}
