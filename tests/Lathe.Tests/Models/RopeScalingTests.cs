using System.Text.Json;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Models;

/// <summary>Llama 3's RoPE frequency scaling: Lathe stores it as llama.cpp's converter does (a divisor per rotary
/// frequency, <see cref="ModelConfig.Llama3RopeDivisors"/>, applied by <see cref="RopeTables"/>); the oracle is Hugging
/// Face's formula (inv_freq scaled and blended directly) in torch float32, recorded by make_rope_scaling_fixture.py.</summary>
public class RopeScalingTests
{
    static IEnumerable<JsonElement> Cases() =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Models", "fixtures", "rope_llama3.json")))
            .RootElement.GetProperty("cases").EnumerateArray();

    static float[] Divisors(JsonElement c) => ModelConfig.Llama3RopeDivisors(c.GetProperty("head_dim").GetInt32(), c.GetProperty("theta").GetDouble(),
        c.GetProperty("factor").GetDouble(), c.GetProperty("low_freq_factor").GetDouble(), c.GetProperty("high_freq_factor").GetDouble(),
        c.GetProperty("original_max_position_embeddings").GetDouble());

    /// <summary>θ^(−2i/D) / divisor_i equals Hugging Face's scaled inv_freq to float32 rounding (relative 1e-6), in all three
    /// bands (kept, divided by the factor, blended).</summary>
    [Fact]
    public void Divided_frequencies_equal_hugging_faces_llama3_inv_freq()
    {
        foreach (var c in Cases())
        {
            int D = c.GetProperty("head_dim").GetInt32();
            double theta = c.GetProperty("theta").GetDouble();
            float[] divisors = Divisors(c);
            double[] expected = c.GetProperty("inv_freq").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(D / 2, expected.Length);
            Assert.Contains(divisors, d => d == 1f);                          // each band is exercised
            Assert.Contains(divisors, d => d == (float)c.GetProperty("factor").GetDouble());
            Assert.Contains(divisors, d => d > 1f && d < 8f);
            for (int i = 0; i < D / 2; i++)
            {
                double got = 1.0 / Math.Pow(theta, 2.0 * i / D) / divisors[i];
                Assert.True(Math.Abs(got - expected[i]) <= 1e-6 * expected[i], $"D={D} i={i}: {got} vs {expected[i]}");
            }
        }
    }

    /// <summary>The cos/sin tables built with the divisors equal cos/sin of Hugging Face's angles (positions up to 200).
    /// Both sides form the angle position·inv_freq in float32 from inv_freq values a rounding apart, so the bound is a few
    /// float32 ulps of the angle: 1e-6 + 4·angle·2⁻²⁴ (1e-6 at angle 0, 3e-5 at angle 130).</summary>
    [Fact]
    public void Tables_with_divisors_equal_hugging_faces_cos_and_sin()
    {
        foreach (var c in Cases())
        {
            int D = c.GetProperty("head_dim").GetInt32(), half = D / 2;
            var tables = RopeTables.Create(256, D, c.GetProperty("theta").GetDouble(), 1, Divisors(c));
            int[] positions = c.GetProperty("positions").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var cos = c.GetProperty("cos").EnumerateArray().ToArray();
            var sin = c.GetProperty("sin").EnumerateArray().ToArray();
            double[] invFreq = c.GetProperty("inv_freq").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            for (int p = 0; p < positions.Length; p++)
                for (int i = 0; i < half; i++)
                {
                    double bound = 1e-6 + 4 * positions[p] * invFreq[i] * Math.Pow(2, -24);
                    Assert.True(Math.Abs(tables.Cos[positions[p] * half + i] - cos[p][i].GetDouble()) <= bound, $"cos D={D} pos={positions[p]} i={i}");
                    Assert.True(Math.Abs(tables.Sin[positions[p] * half + i] - sin[p][i].GetDouble()) <= bound, $"sin D={D} pos={positions[p]} i={i}");
                }
        }
    }

    /// <summary>Without divisors (or all ones) the tables are the plain ones, bit for bit.</summary>
    [Fact]
    public void Unit_divisors_change_nothing()
    {
        var plain = RopeTables.Create(64, 16, 10000);
        var ones = RopeTables.Create(64, 16, 10000, 1, Enumerable.Repeat(1f, 8).ToArray());
        Assert.Equal(plain.Cos, ones.Cos);
        Assert.Equal(plain.Sin, ones.Sin);
    }

    /// <summary>A Hugging Face config.json with rope_scaling of rope_type "llama3" reads as those divisors, and Lathe's
    /// config.json round-trips them; "linear" reads as the position factor; an unknown type is refused by name.</summary>
    [Fact]
    public void Config_json_reads_llama3_and_linear_rope_scaling()
    {
        var c = Cases().First();
        string json = """{"model_type":"llama","hidden_size":64,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,"intermediate_size":96,"vocab_size":512,"rope_theta":10000.0,"rope_scaling":{"rope_type":"llama3","factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":64}}""";
        var config = ModelConfig.Parse(json);
        Assert.Equal(Divisors(c), config.RopeFrequencyDivisors!.ToArray());
        var again = ModelConfig.Parse(config.ToJson());
        Assert.Equal(Divisors(c), again.RopeFrequencyDivisors!.ToArray());
        var linear = ModelConfig.Parse(json.Replace("\"rope_type\":\"llama3\"", "\"type\":\"linear\""));
        Assert.Equal(8.0, linear.RopeScalingFactor);
        Assert.Null(linear.RopeFrequencyDivisors);
        Assert.Equal(8.0, ModelConfig.Parse(linear.ToJson()).RopeScalingFactor);
        var e = Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json.Replace("\"rope_type\":\"llama3\"", "\"rope_type\":\"yarn\"")));
        Assert.Contains("rope_type 'yarn'", e.Message);
    }

    /// <summary>The GGUF fixture's rope_freqs.weight (written by the numpy generator from llama.cpp's converter formula)
    /// holds the divisors of the same parameters, and the loader puts them in the model's config.</summary>
    [Fact]
    public void Gguf_rope_freqs_are_the_llama3_divisors()
    {
        var c = Cases().First();
        using var model = GgufModelLoader.Load(GgufArchitectureParityTests.Fixture("llama3-f16.gguf"));
        float[] loaded = model.Config.RopeFrequencyDivisors!.ToArray(), expected = Divisors(c);
        Assert.Equal(expected.Length, loaded.Length);
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(loaded[i] - expected[i]) <= 1e-6 * expected[i], $"i={i}: {loaded[i]} vs {expected[i]}");
    }
}
