using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>One pre-LN Transformer block built from the engine's ops against PyTorch (float64 reference,
/// Fixtures/make_block_fixtures.py): output and every gradient.</summary>
public class TransformerBlockTests
{
    // Float32 forward through two LayerNorms, attention and a 4× MLP against a float64 reference: errors of a
    // few ulps per op, compounded over ~10 ops on O(1) values, stay below 2e-5 (forward) and 1e-4 (gradients,
    // which also pass through the softmax Jacobian).
    const float ForwardTolerance = 2e-5f;
    const float GradientTolerance = 1e-4f;

    [Fact]
    public void Pre_LN_block_matches_PyTorch()
    {
        using var file = SafetensorsFile.Open(Path.Combine(AppContext.BaseDirectory, "Fixtures", "block.safetensors"));
        int B = int.Parse(file.Metadata["B"]), T = int.Parse(file.Metadata["T"]), C = int.Parse(file.Metadata["C"]), H = int.Parse(file.Metadata["H"]);
        Tensor Load(string name, bool param = true)
        {
            var e = file.Get(name);
            var t = Tensor.FromArray(file.ReadFloats(name), e.Shape.Select(d => (int)d).ToArray());
            t.RequiresGrad = param;
            return t;
        }
        string[] names = ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight", "attn.c_proj.bias",
            "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"];
        var p = names.ToDictionary(n => n, n => Load("param." + n));
        using var x = Load("x");
        using var upstream = Load("upstream", param: false);
        using var tape = new Tape();
        float[] y;
        using (tape.Activate())
        {
            var h = Ops.LayerNorm(x, p["ln_1.weight"], p["ln_1.bias"]);
            var qkv = Ops.Linear(h, p["attn.c_attn.weight"], p["attn.c_attn.bias"]);            // (B,T,3C)
            var parts = new Tensor[3];
            Ops.Split(qkv, -1, [C, C, C], parts);
            Tensor Heads(Tensor t) => Ops.Transpose(Ops.Reshape(Ops.Contiguous(t), B, T, H, C / H), 1, 2);  // (B,H,T,D)
            var a = Ops.Attention(Heads(parts[0]), Heads(parts[1]), Heads(parts[2]), causal: true);
            a = Ops.Reshape(Ops.Transpose(a, 1, 2), B, T, C);
            var x1 = Ops.Add(x, Ops.Linear(a, p["attn.c_proj.weight"], p["attn.c_proj.bias"]));
            var m = Ops.LayerNorm(x1, p["ln_2.weight"], p["ln_2.bias"]);
            m = Ops.Gelu(Ops.Linear(m, p["mlp.c_fc.weight"], p["mlp.c_fc.bias"]), tanhApproximation: true);
            var output = Ops.Add(x1, Ops.Linear(m, p["mlp.c_proj.weight"], p["mlp.c_proj.bias"]));
            y = output.ToArray();
            tape.Backward(output, upstream);
        }
        AssertClose("y", file.ReadFloats("y"), y, ForwardTolerance);
        AssertClose("grad.x", file.ReadFloats("grad.x"), x.Grad!.ToArray(), GradientTolerance);
        foreach (var n in names)
            AssertClose("grad." + n, file.ReadFloats("grad." + n), p[n].Grad!.ToArray(), GradientTolerance);
        foreach (var t in p.Values) t.Dispose();
    }

    static void AssertClose(string what, float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            float err = Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i]));
            worst = Math.Max(worst, err);
        }
        Assert.True(worst <= tolerance, $"{what}: max relative error {worst:G3} exceeds {tolerance:G3}");
    }
}
