using Lathe.Training.Objectives;
using Lathe.Training;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Models;

/// <summary>Mixture-of-Experts decoders and gpt2's sinusoidal / ALiBi / rotary positions against an independent
/// PyTorch implementation in float64 (fixtures/make_moe_fixtures.py): logits, the training loss with its auxiliary
/// terms, the experts each token was routed to, the assignments dropped for capacity, and every gradient.</summary>
public class MoEParityTests
{
    // As ModelParityTests: float32 through two layers against float64. The MoE adds a softmax, a gather and a
    // scatter per layer, well inside the same bounds.
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", name);

    static ModelConfig Gpt2(int embd, int heads) => new()
    {
        ModelType = "gpt2", VocabSize = 97, MaxPositions = 16, Embd = embd, Layers = 2, Heads = heads, KvHeads = heads, Intermediate = 4 * embd,
    };

    internal static ModelConfig Gpt2Moe => Gpt2(32, 2) with
    {
        NumExperts = 4, ExpertsPerToken = 1, MoeEvery = 2, CapacityFactor = 1.0f, RouterAuxLossCoef = 0.05f, RouterZLossCoef = 0.01f,
    };

    internal static ModelConfig LlamaMoe => new()
    {
        ModelType = "llama", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 24,
        NormEps = 1e-5f, TieEmbeddings = false,
        NumExperts = 4, ExpertsPerToken = 2, MoeEvery = 1, CapacityFactor = 0f, RouterAuxLossCoef = 0.05f, RouterZLossCoef = 0.01f,
    };

    [Fact]
    public void Gpt2_Switch_MoE_with_capacity_dropping_matches_PyTorch() => Check("gpt2-moe", Gpt2Moe);

    [Fact]
    public void Llama_Mixtral_MoE_top2_matches_PyTorch() => Check("llama-moe", LlamaMoe);

    [Fact]
    public void Gpt2_ALiBi_with_six_heads_matches_PyTorch() => Check("gpt2-alibi", Gpt2(48, 6) with { PositionEmbeddingType = "alibi" });

    [Fact]
    public void Gpt2_sinusoidal_matches_PyTorch() => Check("gpt2-sinusoidal", Gpt2(32, 2) with { PositionEmbeddingType = "sinusoidal" });

    [Fact]
    public void Gpt2_rope_matches_PyTorch() => Check("gpt2-rope", Gpt2(32, 2) with { PositionEmbeddingType = "rope" });

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
            var l = new CausalLmObjective().Loss(model, new TrainingBatch(ids, targets, B, T, 0));
            loss = l.Item();
            tape.Backward(l);
        }
        ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);

        int moeLayers = 0;
        for (int layer = 0; layer < config.Layers; layer++)
        {
            var moe = MoeLayer(model, layer);
            if (moe is null) continue;
            Assert.Equal(expected.ReadInts($"routing.{moeLayers}"), moe.LastExperts.ToArray());
            Assert.Equal(expected.ReadInts($"dropped.{moeLayers}")[0], moe.LastDropped);
            moeLayers++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("routing.", StringComparison.Ordinal)), moeLayers);

        int checkedCount = 0;
        foreach (var p in model.Parameters)
        {
            // An expert no token reached gets no gradient this pass (PyTorch: zeros).
            float[] grad = p.Value.Grad?.ToArray() ?? new float[p.Value.Length];
            if (p.StoredTransposed) grad = Transpose(grad, p.Value.Dim(0), p.Value.Dim(1));
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), grad, GradientTolerance);
            checkedCount++;
        }
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), checkedCount);
    }

    internal static MixtureOfExperts? MoeLayer(CausalLM model, int layer) => model switch
    {
        Gpt2Model g => g.MoeLayer(layer),
        LlamaModel l => l.MoeLayer(layer),
        _ => null,
    };

    static float[] Transpose(float[] a, int rows, int cols)
    {
        var r = new float[a.Length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) r[j * rows + i] = a[i * cols + j];
        return r;
    }
}
