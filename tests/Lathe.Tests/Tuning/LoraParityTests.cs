using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>LoRA against PyTorch (fixtures/make_lora_fixtures.py): each case is a real PEFT adapter folder over a tiny
/// GPT-2 or Llama base; <see cref="LoraMethod.Load"/> reads it, and the logits, the (weighted) loss and the gradient of
/// every lora_A/lora_B match a float64 reference. Tolerances as the whole-model parity tests: forward 2e-5, gradients
/// 1e-4, relative to 1 + |expected|.</summary>
public class LoraParityTests
{
    const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tuning", "fixtures", "lora", name);

    internal static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 128 };
    internal static ModelConfig Llama => new()
    {
        ModelType = "llama", VocabSize = 97, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
        NormEps = 1e-5f, TieEmbeddings = false,
    };

    /// <summary>The fixture's base model (frozen weights from PyTorch).</summary>
    internal static CausalLM Base(string arch)
    {
        var model = CausalLM.Create(arch == "gpt2" ? Gpt2 : Llama, seed: 1);
        Checkpoint.LoadWeights(Fixture(arch + ".base.safetensors"), model);
        return model;
    }

    [Theory]
    [InlineData("gpt2-c_attn", "gpt2", 2)]
    [InlineData("gpt2-all-linear", "gpt2", 8)]          // with a loss mask
    [InlineData("llama-q_v", "llama", 4)]               // rsLoRA scaling
    [InlineData("llama-all-linear", "llama", 14)]       // target_modules "all-linear", with a loss mask
    public void A_PEFT_adapter_matches_PyTorch_logits_loss_and_every_LoRA_gradient(string name, string arch, int modules)
    {
        using var model = Base(arch);
        using var lora = LoraMethod.Load(model, Fixture(name));
        Assert.Equal(modules, lora.Adapters.Count);
        Assert.Equal("lora", lora.Name);
        using var expected = SafetensorsFile.Open(Fixture(name + ".expected.safetensors"));
        int B = int.Parse(expected.Metadata["B"]), T = int.Parse(expected.Metadata["T"]);
        int[] ids = expected.ReadInts("inputs"), targets = expected.ReadInts("targets");
        float[] weights = expected.ReadFloats("weights");
        using var tape = new Tape();
        float[] logits;
        float loss;
        using (tape.Activate())
        {
            var l = model.Logits(ids, B, T);
            logits = l.ToArray();
            var ce = Ops.CrossEntropy(l, targets, weights);
            loss = ce.Item();
            tape.Backward(ce);
        }
        ModelParityTests.AssertClose("logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose("loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        foreach (var p in lora.Trainable)
            ModelParityTests.AssertClose("grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), lora.Trainable.Count);
        foreach (var p in model.Parameters) Assert.Null(p.Value.Grad);   // the base is frozen: no gradient at all
    }
}
