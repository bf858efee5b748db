using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>LoRA's configuration, target matching, initialisation, dropout and PEFT folder round trip, and the
/// one-line errors for adapters that do not fit the model.</summary>
public class LoraMethodTests
{
    internal static int[] Ids(int n, int seed, int vocab = 64)
    {
        var rng = new Philox((ulong)seed);
        var ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = rng.NextInt(vocab);
        return ids;
    }

    internal static float[] Logits(CausalLM model, int[] ids, int B, int T)
    {
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            return model.Logits(ids, B, T).ToArray();
    }

    static CausalLM Model(string type, ulong seed = 2) => CausalLM.Create(type == "gpt2" ? AdapterSlotTests.Gpt2 : AdapterSlotTests.Llama, seed);

    static LoraConfig Targets(string targets, int r = 4, double alpha = 8)
    {
        var (modules, pattern) = LoraConfig.ParseTargets(targets);
        return new LoraConfig { Rank = r, Alpha = alpha, TargetModules = modules, TargetPattern = pattern };
    }

    [Theory]
    [InlineData("gpt2", "c_attn", 2)]
    [InlineData("gpt2", "c_proj", 4)]                               // attn.c_proj and mlp.c_proj
    [InlineData("gpt2", "attn.c_proj", 2)]                          // a dotted suffix
    [InlineData("gpt2", "all-linear", 8)]                           // every projection, not lm_head
    [InlineData("llama", "q_proj,v_proj", 4)]
    [InlineData("llama", "all-linear", 14)]
    [InlineData("llama", "model.layers.1.self_attn.q_proj", 1)]     // a full name
    public void Targets_match_as_PEFT_matches_them(string type, string targets, int count)
    {
        using var model = Model(type);
        using var lora = LoraMethod.Attach(model, Targets(targets), 1);
        Assert.Equal(count, lora.Adapters.Count);
        Assert.DoesNotContain(lora.Adapters, a => a.Layer.Name == "lm_head");
        Assert.True(lora.IsAttached);
    }

    [Fact]
    public void A_regular_expression_must_match_the_whole_module_name()
    {
        using var model = Model("llama");
        using (var lora = LoraMethod.Attach(model, new LoraConfig { TargetModules = null, TargetPattern = @"model\.layers\.0\.self_attn\.(q|v)_proj" }, 1))
            Assert.Equal(["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"], lora.Adapters.Select(a => a.Layer.Name));
        var e = Assert.Throws<ArgumentException>(() => LoraMethod.Attach(model, new LoraConfig { TargetModules = null, TargetPattern = "q_proj" }, 1));
        Assert.Contains("/q_proj/", e.Message);   // fullmatch: "q_proj" alone matches no full name
    }

    [Fact]
    public void Targets_that_match_nothing_are_one_line_naming_them_and_modules_that_exist()
    {
        using var model = Model("gpt2");
        var e = Assert.Throws<ArgumentException>(() => LoraMethod.Attach(model, Targets("q_proj,v_proj"), 1));
        Assert.Contains("[q_proj, v_proj]", e.Message);
        Assert.Contains("c_attn", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));   // nothing attached
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void A_fresh_adapter_is_PEFTs_init_and_leaves_the_logits_bit_for_bit(string type)
    {
        using var model = Model(type);
        int[] ids = Ids(32, 3);
        float[] plain = Logits(model, ids, 2, 16);
        using var lora = LoraMethod.Attach(model, Targets("all-linear"), 7);
        Assert.True(plain.AsSpan().SequenceEqual(Logits(model, ids, 2, 16)));   // B = 0 adds exact zeros
        foreach (var a in lora.Adapters)
        {
            float bound = 1f / MathF.Sqrt(a.Layer.InFeatures);                 // kaiming_uniform_(a=√5): U(±1/√in)
            var values = a.A.ToArray();
            Assert.All(values, v => Assert.InRange(v, -bound, bound));
            Assert.True(values.Max(Math.Abs) > 0.8f * bound, $"{a.A.Name}: values do not fill the Kaiming range");
            Assert.All(a.B.ToArray(), v => Assert.Equal(0f, v));
            Assert.Equal((4, a.Layer.InFeatures), (a.A.Dim(0), a.A.Dim(1)));
            Assert.Equal((a.Layer.OutFeatures, 4), (a.B.Dim(0), a.B.Dim(1)));
            Assert.Equal(2f, a.Scaling);                                        // alpha 8 / r 4
        }
        using var again = Model(type);
        using var same = LoraMethod.Attach(again, Targets("all-linear"), 7);
        Assert.True(lora.Adapters[3].A.ToArray().AsSpan().SequenceEqual(same.Adapters[3].A.ToArray()));   // same seed, same bits
        Assert.Equal("base_model.model." + lora.Adapters[0].Layer.Name + ".lora_A.weight", lora.Trainable[0].Name);
        Assert.All(model.Parameters, p => Assert.False(p.Value.RequiresGrad));   // the base is frozen
    }

    [Fact]
    public void RsLoRA_scales_by_alpha_over_the_root_of_r()
    {
        Assert.Equal(16f / 4f, new LoraConfig { Rank = 16, Alpha = 16, UseRsLora = true }.Scaling);
        Assert.Equal(1f, new LoraConfig { Rank = 16, Alpha = 16 }.Scaling);
    }

    [Fact]
    public void Dropout_touches_only_the_branch_input_with_a_mask_from_the_models_generator()
    {
        using var model = Model("llama");
        var config = Targets("q_proj") with { Dropout = 0.25, InitLoraWeights = "false" };
        using var lora = LoraMethod.Attach(model, config, 3);
        var adapter = lora.Adapters[0];
        using var x = Tensor.Zeros(5, adapter.Layer.InFeatures);
        new Philox(4).FillNormal(x.AsSpan(), 0, 1f);
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            float[] baseOut = Ops.Linear(x, adapter.Layer.Weight).ToArray();
            float[] evalOut = adapter.Layer.Forward(x).ToArray();                // no generator: no dropout
            model.DropoutRng = new Philox(11);
            float[] trainOut = adapter.Layer.Forward(x).ToArray();
            model.DropoutRng = null;
            // The same mask by hand: the seed drawn as LanguageModel draws it, the branch on dropout(x), the base on x.
            var rng = new Philox(11);
            ulong seed = ((ulong)rng.NextUInt() << 32) | rng.NextUInt();
            var dropped = Ops.Dropout(x, 0.25f, seed);
            float[] want = Ops.Add(Ops.Linear(x, adapter.Layer.Weight),
                Ops.Scale(Ops.Linear(Ops.Linear(dropped, adapter.A), adapter.B), adapter.Scaling)).ToArray();
            float[] noDrop = Ops.Add(Ops.Linear(x, adapter.Layer.Weight),
                Ops.Scale(Ops.Linear(Ops.Linear(x, adapter.A), adapter.B), adapter.Scaling)).ToArray();
            ModelParityTests.AssertClose("train", want, trainOut, 1e-6f);
            ModelParityTests.AssertClose("eval", noDrop, evalOut, 1e-6f);
            Assert.False(trainOut.AsSpan().SequenceEqual(evalOut));
            Assert.False(baseOut.AsSpan().SequenceEqual(evalOut));
        }
    }

    [Theory]
    [InlineData("gpt2", "all-linear")]
    [InlineData("llama", "q_proj,v_proj")]
    public void Save_writes_a_PEFT_folder_that_loads_back_to_the_same_logits(string type, string targets)
    {
        using var model = Model(type);
        int[] ids = Ids(32, 5);
        string dir = CheckpointTests.TempDir();
        float[] adapted;
        using (var lora = LoraMethod.Attach(model, Targets(targets) with { InitLoraWeights = "false", UseRsLora = true }, 9))
        {
            adapted = Logits(model, ids, 2, 16);
            lora.Save(dir);
        }
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));   // disposing detached them
        Assert.Equal(new[] { PeftAdapterFolder.ConfigFile, PeftAdapterFolder.WeightsFile }, Directory.GetFiles(dir).Select(f => Path.GetFileName(f)).Order().ToArray());
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, PeftAdapterFolder.ConfigFile)))!.AsObject();
        Assert.Equal("LORA", (string?)json["peft_type"]);
        Assert.Equal("CAUSAL_LM", (string?)json["task_type"]);
        Assert.Equal(4, (int)json["r"]!);
        Assert.Equal(8.0, (double)json["lora_alpha"]!);
        Assert.True((bool)json["use_rslora"]!);
        Assert.Equal(type == "gpt2", (bool)json["fan_in_fan_out"]!);
        Assert.Equal("none", (string?)json["bias"]);
        var savedTargets = json["target_modules"]!.AsArray().Select(n => (string)n!).ToArray();
        Assert.Equal(type == "gpt2" ? ["c_attn", "c_fc", "c_proj"] : ["q_proj", "v_proj"], savedTargets);   // all-linear resolved, as PEFT saves it
        using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftAdapterFolder.WeightsFile)))
        {
            string first = type == "gpt2" ? "transformer.h.0.attn.c_attn" : "model.layers.0.self_attn.q_proj";
            Assert.Equal([4L, 32L], file.Get($"base_model.model.{first}.lora_A.weight").Shape);
            Assert.Equal(type == "gpt2" ? [96L, 4L] : [32L, 4L], file.Get($"base_model.model.{first}.lora_B.weight").Shape);
        }
        using var loaded = LoraMethod.Load(model, dir);
        Assert.True(adapted.AsSpan().SequenceEqual(Logits(model, ids, 2, 16)));
        // Resuming into an attached method: its tensors are overwritten from the folder.
        foreach (var p in loaded.Trainable) p.Value.AsSpan().Clear();
        loaded.Load(dir);
        Assert.True(adapted.AsSpan().SequenceEqual(Logits(model, ids, 2, 16)));
    }

    [Fact]
    public void Config_fields_round_trip_with_PEFTs_names()
    {
        var config = new LoraConfig { Rank = 16, Alpha = 32, Dropout = 0.05, TargetModules = ["q_proj", "v_proj"], UseRsLora = true, BaseModelNameOrPath = "base" };
        var json = config.ToJson();
        foreach (var field in new[] { "r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "fan_in_fan_out", "bias", "task_type", "base_model_name_or_path", "init_lora_weights", "inference_mode", "modules_to_save", "peft_type" })
            Assert.True(json.ContainsKey(field), field);
        var back = LoraConfig.FromJson(json, "x.json");
        Assert.Equal((16, 32.0, 0.05, true, "base"), (back.Rank, back.Alpha, back.Dropout, back.UseRsLora, back.BaseModelNameOrPath));
        Assert.Equal(["q_proj", "v_proj"], back.TargetModules!);
        var all = LoraConfig.FromJson(new LoraConfig { TargetModules = null, TargetPattern = "all-linear" }.ToJson(), "x.json");
        Assert.Equal("all-linear", all.TargetPattern);
    }

    [Theory]
    [InlineData("use_dora", "true", "use_dora")]
    [InlineData("bias", "\"all\"", "bias")]
    [InlineData("modules_to_save", "[\"lm_head\"]", "modules_to_save")]
    [InlineData("peft_type", "\"PREFIX_TUNING\"", "peft_type")]
    [InlineData("r", "\"eight\"", "r")]
    [InlineData("r", "0", "r must be at least 1")]
    [InlineData("target_modules", "null", "target_modules")]
    public void Config_fields_Lathe_cannot_honour_are_one_line_errors_naming_the_field(string field, string value, string expected)
    {
        var json = new LoraConfig().ToJson();
        json[field] = JsonNode.Parse(value);
        var e = Assert.Throws<InvalidDataException>(() => LoraConfig.FromJson(json, "dir/adapter_config.json"));
        Assert.Contains("dir/adapter_config.json", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_adapter_that_does_not_fit_the_base_names_the_tensor_and_both_shapes()
    {
        using var model = Model("llama");
        string dir = CheckpointTests.TempDir();
        var config = Targets("q_proj").ToJson();
        var good = new PeftTensor("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", [32, 4], new float[128]);
        PeftTensor A(int layer, int inF) => new($"base_model.model.model.layers.{layer}.self_attn.q_proj.lora_A.weight", [4, inF], new float[4 * inF]);
        PeftTensor Bt(int layer) => new($"base_model.model.model.layers.{layer}.self_attn.q_proj.lora_B.weight", [32, 4], new float[128]);

        PeftAdapterFolder.Write(dir, config, [A(0, 48), Bt(0), A(1, 32), Bt(1)]);   // in = 48, the base has 32
        var e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", e.Message);
        Assert.Contains("(4, 48)", e.Message);
        Assert.Contains("(4, 32)", e.Message);

        PeftAdapterFolder.Write(dir, config, [A(0, 32), Bt(0), A(1, 32), Bt(1), new("base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight", [4, 32], new float[128])]);
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains("layers.7.self_attn.q_proj.lora_A.weight", e.Message);
        Assert.Contains("no module", e.Message);

        PeftAdapterFolder.Write(dir, config, [A(0, 32), Bt(0), A(1, 32)]);
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains("layers.1.self_attn.q_proj.lora_B.weight' is missing", e.Message);

        PeftAdapterFolder.Write(dir, config, [A(0, 32), Bt(0), A(1, 32), Bt(1), new("base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", [4, 32], new float[128])]);
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains("target_modules do not select", e.Message);
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));   // every failure left the model as it was

        // A GPT-2 adapter on a Llama base: its targets match nothing there.
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, LoraParityTests.Fixture("gpt2-c_attn")));
        Assert.Contains("[c_attn]", e.Message);
        Assert.Contains("adapter_config.json", e.Message);

        File.Delete(Path.Combine(dir, PeftAdapterFolder.WeightsFile));
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains(PeftAdapterFolder.WeightsFile, e.Message);
        File.WriteAllText(Path.Combine(dir, PeftAdapterFolder.ConfigFile), "{ not json");
        PeftAdapterFolder.Write(Path.Combine(dir, "x"), config, [good]);
        File.Copy(Path.Combine(dir, "x", PeftAdapterFolder.WeightsFile), Path.Combine(dir, PeftAdapterFolder.WeightsFile));
        e = Assert.Throws<InvalidDataException>(() => LoraMethod.Load(model, dir));
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void A_second_adapter_on_a_taken_slot_is_refused()
    {
        using var model = Model("gpt2");
        using var first = LoraMethod.Attach(model, Targets("c_attn"), 1);
        var e = Assert.Throws<ArgumentException>(() => LoraMethod.Attach(model, Targets("all-linear"), 2));
        Assert.Contains("transformer.h.0.attn.c_attn", e.Message);
        Assert.True(first.IsAttached);
        first.Detach();
        first.Detach();   // idempotent
        Assert.All(model.Linears, l => Assert.Null(l.Adapter));
    }
}
