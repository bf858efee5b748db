using Lathe.Formats;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Kernels;

namespace Lathe.Tensors.Tests.Autograd;

/// <summary>Every op against PyTorch (float64 reference from float32 inputs, Fixtures/make_kernel_fixtures.py):
/// outputs and input gradients for a random upstream gradient, on odd shapes.</summary>
public unsafe class PyTorchKernelFixtureTests
{
    static readonly TorchFixture Torch = new("kernels.safetensors");
    static SafetensorsFile Fixtures => Torch.File;
    const float OutputTolerance = TorchFixture.OutputTolerance, GradientTolerance = TorchFixture.GradientTolerance;
    static Tensor Load(string name, bool requiresGrad = true) => Torch.Load(name, requiresGrad);
    static void Check(string name, string[] inputs, Func<Tensor[], Tensor> op) => Torch.Check(name, inputs, op);
    static void Close(string what, float[] expected, float[] actual, float tolerance) => TorchFixture.Close(what, expected, actual, tolerance);

    public static TheoryData<string> Shapes => new() { "3x1", "17x17", "63x129" };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Row_and_elementwise_ops(string shape)
    {
        Check($"softmax_{shape}", ["x"], x => Ops.Softmax(x[0]));
        Check($"log_softmax_{shape}", ["x"], x => Ops.LogSoftmax(x[0]));
        Check($"layer_norm_{shape}", ["x", "w", "b"], x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f));
        Check($"rms_norm_{shape}", ["x", "w"], x => Ops.RmsNorm(x[0], x[1], 1e-6f));
        Check($"gelu_tanh_{shape}", ["x"], x => Ops.Gelu(x[0], tanhApproximation: true));
        Check($"gelu_erf_{shape}", ["x"], x => Ops.Gelu(x[0], tanhApproximation: false));
        Check($"silu_{shape}", ["x"], x => Ops.Silu(x[0]));
        Check($"swiglu_{shape}", ["g_", "u"], x => Ops.SwiGlu(x[0], x[1]));
        Check($"exp_{shape}", ["x"], x => Ops.Exp(x[0]));
        Check($"log_{shape}", ["x"], x => Ops.Log(x[0]));
        Check($"tanh_{shape}", ["x"], x => Ops.Tanh(x[0]));
        Check($"sqrt_{shape}", ["x"], x => Ops.Sqrt(x[0]));
    }

    [Theory]
    [InlineData("cross_entropy_5x17")]
    [InlineData("cross_entropy_63x129")]
    [InlineData("cross_entropy_17x1000")]
    public void Cross_entropy_with_ignored_rows(string name)
    {
        int[] targets = Fixtures.ReadInts($"{name}.t");
        Check(name, ["x"], x => Ops.CrossEntropy(x[0], targets));
    }

    [Fact]
    public void Embedding_rope_attention_matmul()
    {
        int[] ids = Fixtures.ReadInts("embedding.ids");
        Check("embedding", ["table"], x => Ops.Embedding(x[0], ids));
        var tables = RopeTables.Create(16, 8, theta: 10000, scaling: 2);
        Check("rope", ["x"], x => Ops.Rope(x[0], tables, positionOffset: 3));
        int[] lengths = Fixtures.ReadInts("attention.lengths");
        Check("attention", ["q", "k", "v", "bias"], x => Ops.Attention(x[0], x[1], x[2], causal: true, bias: x[3], keyLengths: lengths));
        foreach (var (ta, tb) in new[] { (false, false), (false, true), (true, false), (true, true) })
            Check($"matmul_{(ta ? 1 : 0)}{(tb ? 1 : 0)}", ["a", "b"], x => Ops.MatMul(x[0], x[1], ta, tb));
    }

    [Fact]
    public void AdamW_matches_torch_optim_AdamW_over_three_steps()
    {
        float[] p = Fixtures.ReadFloats("adamw.p0");
        float[] m = new float[p.Length], v = new float[p.Length];
        for (int step = 1; step <= 3; step++)
        {
            float[] g = Fixtures.ReadFloats($"adamw.g{step - 1}");
            fixed (float* pp = p, pg = g, pm = m, pv = v)
                AdamW.Step(pp, pg, pm, pv, p.Length, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, step);
        }
        Close("adamw.p3", Fixtures.ReadFloats("adamw.p3"), p, 2e-6f);
    }
}
