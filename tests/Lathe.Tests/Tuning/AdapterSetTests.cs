using Lathe.Compression;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tensors.Quantized;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>Several adapters of every kind serving keeps over one base (LoRA and QLoRA PEFT folders, llama.cpp's LoRA
/// GGUF, prefix tuning, bottleneck adapters): with <see cref="AdapterSet.Use"/> each gives the logits of that adapter
/// attached alone to a fresh base — bit for bit, through the full forward and the paged cache's decoding step — while
/// switching back and forth, and <c>Use(null)</c> gives the bare base's.</summary>
public sealed class AdapterSetTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "lathe-adapterset-" + Guid.NewGuid().ToString("N"));

    public AdapterSetTests() => Directory.CreateDirectory(_root);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static CausalLM Base(string type, QuantType? quant = null)
    {
        var model = CausalLM.Create(type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama, seed: 11);
        if (quant is { } q) ModelQuantizer.Quantize(model, q, releaseFloatWeights: true);
        return model;
    }

    // Every trained tensor random, so each adapter moves the logits (fresh LoRA B and bottleneck up-projections are 0).
    static void Randomize(ITuningMethod method, ulong seed)
    {
        var rng = new Philox(seed);
        foreach (var p in method.Trainable) rng.FillNormal(p.Value.AsSpan(), 0, 0.3f);
        if (method is PrefixTuning prefix) prefix.Materialize();
    }

    // Makes each kind of adapter for `type` on a scratch base and saves it; returns name → path.
    Dictionary<string, string> MakeAdapters(string type, QuantType? quant = null)
    {
        var paths = new Dictionary<string, string>();
        void Save(string name, Func<CausalLM, ITuningMethod> attach, Action<ITuningMethod, string>? write = null)
        {
            using var scratch = Base(type, quant);
            using var method = attach(scratch);
            Randomize(method, (ulong)paths.Count + 5);
            string path = Path.Combine(_root, $"{type}-{name}" + (write is null ? "" : ".gguf"));
            (write ?? ((m, p) => m.Save(p)))(method, path);
            paths[name] = path;
        }
        string[] targets = type == "gpt2" ? ["c_attn", "c_proj"] : ["q_proj", "v_proj", "down_proj"];
        var lora = new LoraConfig { Rank = 4, Alpha = 8, TargetModules = targets, FanInFanOut = type == "gpt2" };
        Save("lora", m => LoraMethod.Attach(m, lora, seed: 1));
        Save("lora-gguf", m => LoraMethod.Attach(m, lora with { Rank = 2, TargetModules = targets[..1] }, seed: 2),
            (m, p) => AdapterFiles.ExportGguf((LoraMethod)m, p));
        if (quant is null)
        {
            Save("prefix", m => PrefixTuning.Attach(m, new PrefixTuningConfig { VirtualTokens = 3 }, seed: 3));
            Save("bottleneck", m => BottleneckAdapters.Attach(m, new BottleneckConfig { BottleneckSize = 8 }, seed: 4));
        }
        return paths;
    }

    static readonly int[] Ids = LoraMethodTests.Ids(16, 9);

    // The full forward's logits (2 sequences of 8) and the paged cache's: a prompt of 6, then one decoding step.
    static float[] Logits(CausalLM model)
    {
        var full = LoraMethodTests.Logits(model, Ids, 2, 8);
        using var cache = new PagedKvCache(model.Config, blocks: 4, blockSize: 4);
        using var tape = new Tape();
        int s = cache.AddSequence();
        float[] step;
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            cache.Forward(model, Ids.AsSpan(0, 6), s);
            tape.Reset();
            step = cache.Forward(model, Ids.AsSpan(6, 1), s).ToArray();
        }
        return [.. full, .. step];
    }

    // The logits of each adapter attached alone to a fresh base (and of the bare base, under "").
    static Dictionary<string, float[]> Alone(string type, Dictionary<string, string> paths, QuantType? quant = null)
    {
        var result = new Dictionary<string, float[]>();
        using (var bare = Base(type, quant)) result[""] = Logits(bare);
        foreach (var (name, path) in paths)
        {
            using var model = Base(type, quant);
            using var method = AdapterFiles.Attach(model, path);
            result[name] = Logits(model);
        }
        return result;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Each_adapter_in_use_gives_its_logits_alone_and_none_gives_the_bare_base(string type)
    {
        var paths = MakeAdapters(type);
        var alone = Alone(type, paths);
        foreach (var (name, logits) in alone)
            if (name != "")
                Assert.False(logits.AsSpan().SequenceEqual(alone[""]), $"{name} does not change the logits: the test would prove nothing");

        using var model = Base(type);
        var weights = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        using var set = new AdapterSet(model);
        foreach (var (name, path) in paths) set.Add(name, path);
        Assert.Equal(paths.Keys, set.Names);
        Assert.Null(set.Active);
        Assert.Equal("prefix", set["prefix"].Name);
        string?[] order = ["lora", "prefix", "bottleneck", "lora-gguf", null, "prefix", "lora", "bottleneck", null, "bottleneck", "prefix", "lora-gguf", "lora"];
        foreach (var name in order)
        {
            set.Use(name);
            Assert.Equal(name, set.Active);
            Assert.True(alone[name ?? ""].AsSpan().SequenceEqual(Logits(model)), $"logits with '{name ?? "(base)"}' differ from that adapter alone");
        }
        set.Use(null);
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));
        for (int i = 0; i < weights.Length; i++) Assert.True(weights[i].AsSpan().SequenceEqual(model.Parameters[i].Value.AsSpan()));   // no weight edits
    }

    [Fact]
    public void Lora_over_a_quantized_base_switches_like_over_f32()
    {
        var paths = MakeAdapters("llama", QuantType.Q8_0);
        var alone = Alone("llama", paths, QuantType.Q8_0);
        using var model = Base("llama", QuantType.Q8_0);
        using var set = new AdapterSet(model);
        foreach (var (name, path) in paths) set.Add(name, path);
        Assert.Equal("qlora", set["lora"].Name);
        foreach (var name in new[] { "lora", null, "lora-gguf", "lora", null })
        {
            set.Use(name);
            Assert.True(alone[name ?? ""].AsSpan().SequenceEqual(Logits(model)), $"logits with '{name ?? "(base)"}' differ from that adapter alone");
        }
    }

    [Fact]
    public void Prompt_tuning_unknown_names_and_bad_paths_are_one_line_errors_that_change_nothing()
    {
        var paths = MakeAdapters("gpt2");
        string prompt = Path.Combine(_root, "prompt");
        using (var scratch = Base("gpt2"))
        using (var method = PromptTuning.Attach(scratch, new PromptTuningConfig { VirtualTokens = 4 }, seed: 1))
            method.Save(prompt);
        var alone = Alone("gpt2", new() { ["lora"] = paths["lora"] });

        using var model = Base("gpt2");
        using var set = new AdapterSet(model);
        set.Add("lora", paths["lora"]);
        set.Use("lora");
        var refused = Assert.Throws<InvalidDataException>(() => set.Add("prompt", prompt));
        Assert.StartsWith(prompt + ": prompt tuning puts 4 trained rows before every prompt", refused.Message);
        Assert.Throws<FileNotFoundException>(() => set.Add("missing", Path.Combine(_root, "nothing-here")));
        var taken = Assert.Throws<ArgumentException>(() => set.Add("lora", paths["bottleneck"]));
        Assert.Contains("'lora' is already taken", taken.Message);
        Assert.Throws<ArgumentException>(() => set.Add(" ", paths["bottleneck"]));
        var unknown = Assert.Throws<ArgumentException>(() => set.Use("prompt"));
        Assert.Equal("adapter: no adapter named 'prompt' (loaded: lora).", unknown.Message);
        Assert.Equal(["lora"], set.Names);
        Assert.Equal("lora", set.Active);
        Assert.True(alone["lora"].AsSpan().SequenceEqual(Logits(model)));   // still the active adapter's logits
        set.Use(null);
        Assert.True(alone[""].AsSpan().SequenceEqual(Logits(model)));
    }

    [Fact]
    public void Disposing_the_set_leaves_the_base_bare()
    {
        var paths = MakeAdapters("llama");
        using var model = Base("llama");
        float[] bare = Logits(model);
        using (var set = new AdapterSet(model))
        {
            foreach (var (name, path) in paths) set.Add(name, path);
            set.Use("prefix");
            Assert.False(bare.AsSpan().SequenceEqual(Logits(model)));
        }
        Assert.True(bare.AsSpan().SequenceEqual(Logits(model)));
    }

    [Fact]
    public void Bottleneck_attach_refuses_a_slot_another_method_holds()
    {
        var paths = MakeAdapters("gpt2");
        using var model = Base("gpt2");
        using var bottleneck = AdapterFiles.Attach(model, paths["bottleneck"]);
        bottleneck.Detach();
        using var lora = LoraMethod.Attach(model, new LoraConfig { Rank = 2, Alpha = 2, TargetModules = ["c_proj"] }, seed: 1);
        var e = Assert.Throws<InvalidOperationException>(() => bottleneck.Attach());
        Assert.Contains("already has another adapter attached", e.Message);
        Assert.All(lora.Adapters, a => Assert.Same(a, a.Layer.Adapter));   // nothing changed
        lora.Detach();
        bottleneck.Attach();
        bottleneck.Attach();   // idempotent
    }
}
