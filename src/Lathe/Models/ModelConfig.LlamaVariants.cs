using System.Text.Json.Nodes;

namespace Lathe.Models;

// The Llama-layout variants that differ from Llama 2 only in a few numbers: Llama 3's RoPE frequency scaling, Qwen2's
// q/k/v biases, Mistral's sliding-window attention and linear RoPE position scaling. They stay model_type "llama" in
// Lathe (one model file, LlamaModel); config.json carries them with Hugging Face's names where HF has one
// (model_type "qwen2", "mistral"; sliding_window; rope_scaling of rope_type "llama3" or "linear"), and the per-frequency
// divisors a GGUF file stores (llama.cpp's rope_freqs.weight) as Lathe's own "rope_frequency_divisors".
public sealed partial record ModelConfig
{
    /// <summary>Divisors of the HeadDim/2 rotary frequencies (θ^(−2i/D) / divisor_i): Llama 3's "llama3" rope scaling,
    /// as llama.cpp's converter stores it in rope_freqs.weight. Null: every divisor is 1.</summary>
    public IReadOnlyList<float>? RopeFrequencyDivisors { get; init; }

    /// <summary>Linear RoPE scaling (rope_scaling type "linear"): positions are divided by this factor. 1 = none.</summary>
    public double RopeScalingFactor { get; init; } = 1;

    /// <summary>The q, k and v projections have biases (Qwen2; the output projection has none).</summary>
    public bool AttentionQkvBias { get; init; }

    void ValidateLlamaVariants()
    {
        // SlidingWindow (ModelConfig.Gemma.cs) is shared with Gemma 2, whose local layers use it.
        bool any = RopeFrequencyDivisors is not null || RopeScalingFactor != 1 || AttentionQkvBias || (SlidingWindow != 0 && !IsGemma);
        if (any && ModelType != "llama") Fail("model_type", $"'{ModelType}' has no rope scaling, q/k/v biases or sliding window (llama only)");
        if (RopeFrequencyDivisors is { } divisors)
        {
            if (divisors.Count != HeadDim / 2) Fail("rope_frequency_divisors", $"{divisors.Count} values for head dim {HeadDim} (expected {HeadDim / 2})");
            foreach (float d in divisors)
                if (!(d > 0) || float.IsInfinity(d)) Fail("rope_frequency_divisors", $"{d} must be positive and finite");
        }
        if (!(RopeScalingFactor > 0) || double.IsInfinity(RopeScalingFactor)) Fail("rope_scaling.factor", $"{RopeScalingFactor} must be positive");
        if (SlidingWindow < 0) Fail("sliding_window", $"{SlidingWindow} must be ≥ 0");
    }

    /// <summary>Llama 3's divisors (Hugging Face's "llama3" rope_type): wavelengths 2π/freq shorter than
    /// original/high_freq_factor keep their frequency, longer than original/low_freq_factor are divided by
    /// <paramref name="factor"/>, and the band between is blended smoothly (Meta's Llama 3.1 reference code).</summary>
    public static float[] Llama3RopeDivisors(int headDim, double theta, double factor, double lowFreqFactor, double highFreqFactor, double originalContext)
    {
        var divisors = new float[headDim / 2];
        for (int i = 0; i < divisors.Length; i++)
        {
            double wavelength = 2 * Math.PI * Math.Pow(theta, 2.0 * i / headDim);
            if (wavelength < originalContext / highFreqFactor) divisors[i] = 1;
            else if (wavelength > originalContext / lowFreqFactor) divisors[i] = (float)factor;
            else
            {
                double smooth = (originalContext / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                divisors[i] = (float)(1 / ((1 - smooth) / factor + smooth));
            }
        }
        return divisors;
    }

    // model_type "qwen2" and "mistral" are Llama with biases / a window; rope_scaling "llama3" or "linear".
    static ModelConfig ParseLlamaVariants(JsonObject node, string modelType, ModelConfig c)
    {
        if (modelType == "qwen2")
        {
            c = c with { AttentionQkvBias = true };
            if (Bool(node, "use_sliding_window") == true) c = c with { SlidingWindow = Int(node, "sliding_window") ?? 0 };
        }
        else if (node["sliding_window"] is not null) c = c with { SlidingWindow = Int(node, "sliding_window") ?? 0 };
        if (node["rope_frequency_divisors"] is JsonArray divisors)
            c = c with { RopeFrequencyDivisors = divisors.Select(d => (float)(d is JsonValue v && v.TryGetValue(out double x) ? x
                : throw new InvalidDataException("config: rope_frequency_divisors: not a list of numbers"))).ToArray() };
        if (node["rope_scaling"] is JsonObject scaling)
        {
            string type = Str(scaling, "rope_type") ?? Str(scaling, "type") ?? "default";
            double factor = Dbl(scaling, "factor") ?? 1;
            if (type == "linear") c = c with { RopeScalingFactor = factor };
            else if (type == "llama3")
                c = c with
                {
                    RopeFrequencyDivisors = Llama3RopeDivisors(c.HeadDim, c.RopeTheta, factor, Dbl(scaling, "low_freq_factor") ?? 1,
                        Dbl(scaling, "high_freq_factor") ?? 4, Int(scaling, "original_max_position_embeddings") ?? 8192),
                };
            else if (type != "default") throw new InvalidDataException($"config: rope_scaling: rope_type '{type}' is not supported (linear, llama3)");
        }
        return c;
    }

    // Inverse of ParseLlamaVariants for a llama config; o already holds the plain Llama fields.
    void WriteLlamaVariants(JsonObject o)
    {
        if (AttentionQkvBias)
        {
            o["architectures"] = new JsonArray("Qwen2ForCausalLM");
            o["model_type"] = "qwen2";
            o["use_sliding_window"] = SlidingWindow > 0;
        }
        else if (SlidingWindow > 0)
        {
            o["architectures"] = new JsonArray("MistralForCausalLM");
            o["model_type"] = "mistral";
        }
        if (SlidingWindow > 0) o["sliding_window"] = SlidingWindow;
        if (RopeScalingFactor != 1) o["rope_scaling"] = new JsonObject { ["rope_type"] = "linear", ["factor"] = RopeScalingFactor };
        // No Hugging Face field holds divisors; Lathe reads its own back (HF transformers would ignore it).
        if (RopeFrequencyDivisors is { } divisors) o["rope_frequency_divisors"] = new JsonArray(divisors.Select(d => (JsonNode)(double)d).ToArray());
    }
}
