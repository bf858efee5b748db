using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

/// <summary>Whole-model parity in the manner of llm.c's test_gpt2.c: logits, loss and the gradient of every
/// parameter against an independent PyTorch implementation run in float64 (fixtures/make_gpt2_fixtures.py).</summary>
public class ModelParityTests
{
    // Float32 through ~2 layers × ~10 ops on O(1) activations vs a float64 reference: a few ulps per op,
    // compounded, stay below 2e-5 relative (forward); gradients pass the softmax/norm Jacobians too: 1e-4.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    [Fact]
    public void Gpt2_matches_PyTorch_logits_loss_and_every_gradient() =>
        Check("gpt2", new ModelConfig { ModelType = "gpt2", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 128 });

    [Fact]
    public void Llama_matches_PyTorch_logits_loss_and_every_gradient() =>
        Check("llama", new ModelConfig
        {
            ModelType = "llama", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
            NormEps = 1e-5f, TieEmbeddings = false,
        });

    static void Check(string name, ModelConfig config)
    {
        using var model = CausalLM.Create(config, seed: 1);
        Checkpoint.LoadWeights(Fixture(name + ".model.safetensors"), model);
        using var expected = SafetensorsFile.Open(Fixture(name + ".expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int[] ids = expected.ReadInts("inputs"), targets = expected.ReadInts("targets");
        using var tape = new Tape();
        float[] logits;
        float loss;
        using (tape.Activate())
        {
            logits = model.Logits(ids, B, T).ToArray();
            tape.Reset();
            var l = Lathe.Tensors.Ops.CrossEntropy(model.Logits(ids, B, T), targets);
            loss = l.Item();
            tape.Backward(l);
        }
        AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        // Gradients in the checkpoint's layout (Conv1D weights transposed), compared by HF name.
        string dir = Path.Combine(Path.GetTempPath(), "lathe-parity-" + Guid.NewGuid().ToString("N"));
        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            float[] grad = p.Value.Grad!.ToArray();
            if (p.StoredTransposed) grad = Transpose(grad, p.Value.Dim(0), p.Value.Dim(1));
            AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), grad, GradientTolerance);
            checkedCount++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), checkedCount);
    }

    static float[] Transpose(float[] a, int rows, int cols)
    {
        var r = new float[a.Length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) r[j * rows + i] = a[i * cols + j];
        return r;
    }

    internal static void AssertClose(string what, float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / (1 + Math.Abs(expected[i])));
        Assert.True(worst <= tolerance, $"{what}: max relative error {worst:G3} exceeds {tolerance:G3}");
    }
}
