using System.Text.Json;
using Lathe.Compression;
using Lathe.Formats;

namespace Lathe.Tests.Compression;

/// <summary>llama.cpp's per-tensor type rules: for three small llama files (rows of 256; 16 layers with 4:1 grouped kv
/// heads, a tied head and an ffn of 288; rows of 96) under every preset, with an importance matrix and with --pure,
/// Lathe's choice equals the type llama_model_quantize wrote (fixtures/quant_mix_reference.json, made by
/// make_quant_mix_reference.py), and what Lathe stores is that type or, for the 32-block types Lathe lacks, Q8_0.</summary>
public class QuantizationMixTests
{
    static JsonElement Reference() => JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Compression", "fixtures", "quant_mix_reference.json"))).RootElement;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in Reference().GetProperty("models").EnumerateArray())
            foreach (var run in model.GetProperty("presets").EnumerateObject())
                data.Add(model.GetProperty("name").GetString()!, run.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_tensor_gets_the_type_llama_cpp_gives_it(string modelName, string run)
    {
        var model = Reference().GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == modelName);
        var tensors = model.GetProperty("tensors").EnumerateArray()
            .Select(t => (t[0].GetString()!, t[1].EnumerateArray().Select(d => d.GetInt64()).ToArray(), GgmlType.F32)).ToList();
        var shape = new MixModelShape(model.GetProperty("layers").GetInt32(), model.GetProperty("heads").GetInt32(), model.GetProperty("kv_heads").GetInt32());
        string[] expected = model.GetProperty("presets").GetProperty(run).EnumerateArray().Select(e => e.GetString()!).ToArray();
        string presetName = run.Split('+')[0];
        var choices = QuantizationMix.Choose(QuantizationPresets.Parse(presetName), tensors, shape,
            hasImatrix: run.EndsWith("+imatrix", StringComparison.Ordinal), pure: run.EndsWith("+pure", StringComparison.Ordinal));

        Assert.Equal(tensors.Count, choices.Length);
        for (int i = 0; i < tensors.Count; i++)
        {
            Assert.True(expected[i] == choices[i].LlamaType, $"{modelName} {run} {tensors[i].Item1}: llama.cpp {expected[i]}, Lathe {choices[i].LlamaType}");
            Assert.Equal(tensors[i].Item1, choices[i].Name);
            if (expected[i] is "q4_1" or "q5_0" or "q5_1")
            {
                Assert.Equal(GgmlType.Q8_0, choices[i].Stored);
                Assert.Contains(expected[i], choices[i].Substitution);
            }
            else
            {
                Assert.Equal(expected[i], QuantizationMix.TypeName(choices[i].Stored));
                Assert.Null(choices[i].Substitution);
            }
        }
    }

    [Fact]
    public void The_reference_exercises_the_raised_types_and_the_fallbacks()
    {
        // Guards the fixture itself: a table of one type everywhere would let wrong rules pass.
        var seen = new HashSet<string>();
        foreach (var model in Reference().GetProperty("models").EnumerateArray())
            foreach (var run in model.GetProperty("presets").EnumerateObject())
                foreach (var t in run.Value.EnumerateArray()) seen.Add(t.GetString()!);
        foreach (string t in new[] { "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "f16", "bf16", "f32" })
            Assert.Contains(t, seen);
    }

    [Theory]
    [InlineData("q4_k", "q4_k_m", 15u)]
    [InlineData("Q5_K", "q5_k_m", 17u)]
    [InlineData("q3_k", "q3_k_m", 12u)]
    [InlineData("q6_k", "q6_k", 18u)]
    [InlineData("bf16", "bf16", 32u)]
    [InlineData("q2_k", "q2_k", 10u)]
    public void Preset_names_and_aliases_give_llama_cpp_file_types(string name, string canonical, uint fileType)
    {
        var preset = QuantizationPresets.Parse(name);
        Assert.Equal(canonical, preset.Name);
        Assert.Equal(fileType, preset.FileType);
    }

    [Fact]
    public void An_unknown_preset_names_the_choices()
    {
        var e = Assert.Throws<ArgumentException>(() => QuantizationPresets.Parse("q7_k"));
        Assert.Contains("'q7_k'", e.Message);
        Assert.Contains("q4_k_m", e.Message);
        Assert.Contains("bf16", e.Message);
    }
}
