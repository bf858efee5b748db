using System.Text.Json;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Tuning;
using static Lathe.Tests.Tuning.TuningTestSupport;

namespace Lathe.Tests.Tuning;

/// <summary>Houlsby bottleneck adapters: PyTorch parity of all four tensors (GELU on gpt2, ReLU on llama), the exact
/// start from the base model, the folder, a frozen base, exact resume and bad folders.</summary>
public class BottleneckAdaptersTests
{
    [Theory]
    [InlineData("gpt2", BottleneckActivation.Gelu)]
    [InlineData("llama", BottleneckActivation.Relu)]
    public void Matches_PyTorch_logits_and_the_gradient_of_every_adapter_tensor(string arch, BottleneckActivation activation)
    {
        using var model = BaseModel("bottleneck_" + arch, arch);
        using var method = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 8, Activation = activation }, 1);
        Assert.Equal(2 * 2 * 4, method.Trainable.Count);   // 2 layers × 2 projections × (W_down, b_down, W_up, b_up)
        CheckParity("bottleneck_" + arch, model, method);
    }

    [Fact]
    public void The_adapter_gradients_match_finite_differences()
    {
        using var model = BaseModel("bottleneck_gpt2", "gpt2");
        using var method = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 8 }, 1);
        CheckFiniteDifferences("bottleneck_gpt2", method, name => name.Contains(".h.0.", StringComparison.Ordinal));   // layer 0's 8 tensors: time
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Fresh_adapters_start_from_the_base_model_bit_for_bit_and_detach_cleanly(string arch)
    {
        using var model = CausalLM.Create(For(arch), 3);
        int[] ids = Corpus(16, 2);
        using var none = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 4 }, 1);
        float[] adapted = Logits(none, ids, 2, 8);
        string[] expected = arch == "gpt2"
            ? ["transformer.h.0.attn.c_proj", "transformer.h.0.mlp.c_proj", "transformer.h.1.attn.c_proj", "transformer.h.1.mlp.c_proj"]
            : ["model.layers.0.self_attn.o_proj", "model.layers.0.mlp.down_proj", "model.layers.1.self_attn.o_proj", "model.layers.1.mlp.down_proj"];
        Assert.Equal(expected, none.Modules);
        var down = none.Trainable.First(p => p.Name.EndsWith("adapter_down.weight", StringComparison.Ordinal)).Value.ToArray();
        Assert.True(down.All(x => MathF.Abs(x) <= 0.02f) && down.Any(x => x != 0));   // N(0, 0.01²) cut at 2σ
        none.Detach();
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));
        float[] plain = Logits(none, ids, 2, 8);
        Assert.True(plain.AsSpan().SequenceEqual(adapted));   // W_up = 0, b_up = 0: y + 0 is y
    }

    [Fact]
    public void Saves_and_loads_the_Lathe_bottleneck_folder()
    {
        string dir = CheckpointTests.TempDir();
        using var model = BaseModel("bottleneck_llama", "llama");
        int[] ids = Corpus(12, 3);
        float[] trained;
        using (var method = BottleneckAdapters.Attach(model, new BottleneckConfig { BottleneckSize = 8, Activation = BottleneckActivation.Relu }, 1))
        {
            SetMethodTensors(method, "bottleneck_llama");
            trained = Logits(method, ids, 2, 6);
            method.Save(dir);
        }
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));   // disposing detaches
        using (var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json"))))
        {
            var root = doc.RootElement;
            Assert.Equal("LATHE_BOTTLENECK", root.GetProperty("peft_type").GetString());
            Assert.Equal(8, root.GetProperty("bottleneck_size").GetInt32());
            Assert.Equal("relu", root.GetProperty("non_linearity").GetString());
            Assert.Equal(4, root.GetProperty("target_modules").GetArrayLength());
        }
        using (var file = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors")))
        {
            Assert.Equal([8L, 32], file.Entries["base_model.model.model.layers.1.mlp.down_proj.adapter_down.weight"].Shape);
            Assert.Equal([32L, 8], file.Entries["base_model.model.model.layers.0.self_attn.o_proj.adapter_up.weight"].Shape);
            Assert.Equal(16, file.Entries.Count);
        }
        using (var loaded = BottleneckAdapters.Load(model, dir))
            Assert.True(trained.AsSpan().SequenceEqual(Logits(loaded, ids, 2, 6)));
        using var gpt2 = CausalLM.Create(Gpt2, 1);
        var e = Assert.Throws<InvalidDataException>(() => BottleneckAdapters.Load(gpt2, dir));
        Assert.Contains("model.layers.0.self_attn.o_proj", e.Message);
        using var wide = CausalLM.Create(Llama with { Embd = 48, Heads = 4, KvHeads = 2 }, 1);
        e = Assert.Throws<InvalidDataException>(() => BottleneckAdapters.Load(wide, dir));
        Assert.Contains("adapter_down.weight", e.Message);
        Assert.Contains("(8, 32)", e.Message);
    }

    [Fact]
    public void Training_resumes_bit_for_bit_and_leaves_the_base_unchanged()
    {
        var config = new BottleneckConfig { BottleneckSize = 4 };
        using (var model = CausalLM.Create(Llama, 5))
        using (var method = BottleneckAdapters.Attach(model, config, 6))
            CheckFrozenBase(model, method);
        CheckExactResume(() => CausalLM.Create(Gpt2, 5), (model, seed) => BottleneckAdapters.Attach(model, config, seed), n: 2);
    }
}
