using Lathe.Formats;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Inference;

/// <summary>Lathe against llama.cpp on the same GGUF files: small random-weight llama models (vocab 512, d 64,
/// 2 layers, 4 heads / 2 kv heads) written by scripts/gen/random_llama_gguf.py, with llama.cpp's outputs recorded by
/// make_llama_cpp_reference.mjs (regenerate both with make_gguf_fixtures.sh).</summary>
public class GgufParityTests
{
    internal static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Inference", "fixtures", "gguf", name);

    internal static JsonElement Reference(string model) =>
        JsonDocument.Parse(File.ReadAllText(Fixture("llama_cpp_reference.json"))).RootElement.GetProperty("models").GetProperty(model);

    internal static int[] Ints(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>Greedy decoding through Lathe's generator (KV cache, sampler at temperature 0) gives llama.cpp's 64 tokens,
    /// for the F32 file (where both engines compute in float32; the rope and q/k row order must be right for this).</summary>
    [Fact]
    public void F32_greedy_continuation_equals_llama_cpp_over_64_tokens()
    {
        var reference = Reference("gpt2vocab-f32");
        using var model = GgufModelLoader.Load(Fixture("gpt2vocab-f32.gguf"));
        using var generator = new Generator(model);
        var options = new SamplingOptions { Temperature = 0, TopK = 0, TopP = 1, MinP = 0 };
        int[] got = generator.Generate(Ints(reference.GetProperty("prompt")), 64, options).ToArray();
        Assert.Equal(Ints(reference.GetProperty("greedy")), got);
    }

    /// <summary>Raw logits at five positions of the continuation agree closely with llama.cpp's (F32: same arithmetic up to
    /// summation order; measured max |Δ| 3e-5 on logits of magnitude ~10, bound 1e-4).</summary>
    [Fact]
    public void F32_logits_match_llama_cpp()
    {
        var (maxDiff, _) = Compare("gpt2vocab-f32");
        Assert.True(maxDiff < 1e-4, $"max |Δlogit| {maxDiff}");
    }

    /// <summary>Quantized and F16 files loaded by <see cref="GgufModelLoader.Load"/>, which decodes every weight to F32
    /// (for training or fine-tuning a GGUF model): the weights are the same values, but llama.cpp rounds the activations
    /// on the fly (to 8-bit Q8_0 blocks for its Q8_0/Q4_0 integer dot products, to F16 for F16 weights) while this model
    /// multiplies float32 activations. That 8-bit activation rounding is of the same size
    /// as Q8_0's weight rounding, so the next-token distributions differ by a little: measured max KL(llama.cpp ‖ Lathe)
    /// over the five recorded positions is 4.3e-3 nats (Q8_0), 2.3e-3 (Q4_0), 4.8e-7 (F16); the bounds are 0.01 nats
    /// for the 8-bit-activation types and 1e-5 for F16. (A wrong block layout or row order gives KL ≫ 0.1.)</summary>
    [Theory]
    [InlineData("gpt2vocab-q8_0", 0.01)]
    [InlineData("gpt2vocab-q4_0", 0.01)]
    [InlineData("spm-f16", 1e-5)]
    public void Quantized_next_token_distributions_are_close_to_llama_cpp(string name, double bound)
    {
        var (_, maxKl) = Compare(name);
        Assert.True(maxKl <= bound, $"{name}: max KL(llama.cpp ‖ Lathe) = {maxKl} nats > {bound}");
    }

    /// <summary>The same comparison through the kernels `generate`, `chat` and `bench decode` run: weights kept
    /// quantized (<see cref="GgufModelLoader.LoadQuantized"/>) and activations rounded to Q8_0 blocks as llama.cpp rounds
    /// them, so the integer block sums are llama.cpp's own and only float summation order differs (the packed integer
    /// GEMMs where the CPU has them, else the matvec kernels). Measured max KL
    /// 5.5e-12 (Q8_0) and 3.8e-12 nats (Q4_0), bound 1e-9; F16 4.8e-7, bound 1e-5.</summary>
    [Theory]
    [InlineData("gpt2vocab-q8_0", 1e-9)]
    [InlineData("gpt2vocab-q4_0", 1e-9)]
    [InlineData("spm-f16", 1e-5)]
    public void Quantized_kernels_next_token_distributions_match_llama_cpp(string name, double bound)
    {
        var (_, maxKl) = Compare(name, quantizedKernels: true);
        Assert.True(maxKl <= bound, $"{name}: max KL(llama.cpp ‖ Lathe quantized kernels) = {maxKl} nats > {bound}");
    }

    /// <summary>Greedy decoding of the quantized files with the decode kernels (the prompt in one pass, then single
    /// tokens through the KV cache), teacher-forced on llama.cpp's 64 tokens: Lathe picks
    /// llama.cpp's token at every step, except where its own two best logits are within 1e-4 of each other (a tie that
    /// summation order may break either way). At most two ties.</summary>
    [Theory]
    [InlineData("gpt2vocab-q8_0")]
    [InlineData("gpt2vocab-q4_0")]
    public void Quantized_greedy_continuation_equals_llama_cpp_over_64_tokens(string name)
        => TeacherForcedGreedy(name, Reference(name), Fixture(name + ".gguf"), maxTieGap: 1e-4);

    /// <summary>The quantized kernels (KV-cache decode), teacher-forced on llama.cpp's greedy tokens: Lathe picks
    /// llama.cpp's token at every step except near-ties (its own top logit within <paramref name="maxTieGap"/> of
    /// llama.cpp's pick), at most two of them.</summary>
    internal static void TeacherForcedGreedy(string name, JsonElement reference, string path, double maxTieGap)
    {
        int[] prompt = Ints(reference.GetProperty("prompt")), greedy = Ints(reference.GetProperty("greedy"));
        using var model = GgufModelLoader.LoadQuantized(path);
        using var cache = new OneSequenceCache(model.Config);
        using var tape = new Tape();
        using var active = tape.Activate();
        using var noGrad = Tape.NoGrad();
        float[] logits = cache.LastLogits(model, prompt).ToArray();
        int ties = 0;
        for (int step = 0; step < greedy.Length; step++)
        {
            int pick = 0;
            for (int v = 1; v < logits.Length; v++) if (logits[v] > logits[pick]) pick = v;
            if (pick != greedy[step])
            {
                double gap = logits[pick] - logits[greedy[step]];
                Assert.True(gap <= maxTieGap, $"{name} step {step}: Lathe picks {pick}, llama.cpp {greedy[step]} (logit gap {gap})");
                ties++;
            }
            tape.Reset();
            logits = cache.LastLogits(model, greedy.AsSpan(step, 1)).ToArray();
        }
        Assert.True(ties <= 2, $"{name}: {ties} near-tie steps");
    }

    /// <summary>Teacher-forces llama.cpp's prompt + greedy tokens through Lathe in one pass and compares the logits at the
    /// recorded steps: (max |Δlogit|, max KL(p_llama.cpp ‖ p_Lathe)).</summary>
    internal static (double MaxDiff, double MaxKl) Compare(string name, bool quantizedKernels = false) =>
        Compare(Reference(name), Fixture(name + ".gguf"), quantizedKernels);

    /// <summary><see cref="Compare(string, bool)"/> for any recorded reference and GGUF file.</summary>
    internal static (double MaxDiff, double MaxKl) Compare(JsonElement reference, string path, bool quantizedKernels = false)
    {
        int[] prompt = Ints(reference.GetProperty("prompt")), greedy = Ints(reference.GetProperty("greedy"));
        int[] ids = [.. prompt, .. greedy];
        using var model = quantizedKernels ? GgufModelLoader.LoadQuantized(path) : GgufModelLoader.Load(path);
        int V = model.Config.VocabSize;
        float[] logits;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
            logits = model.Logits(ids, 1, ids.Length).ToArray();   // (T, V)
        double maxDiff = 0, maxKl = 0;
        foreach (var record in reference.GetProperty("logits").EnumerateArray())
        {
            int step = record.GetProperty("step").GetInt32();
            double[] expected = record.GetProperty("logits").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.Equal(V, expected.Length);
            var actual = logits.AsSpan((prompt.Length - 1 + step) * V, V);
            for (int v = 0; v < V; v++) maxDiff = Math.Max(maxDiff, Math.Abs(expected[v] - actual[v]));
            maxKl = Math.Max(maxKl, KlDivergence(expected, actual));
        }
        return (maxDiff, maxKl);
    }

    /// <summary>KL(softmax(p) ‖ softmax(q)) in nats, computed in double from logits.</summary>
    internal static double KlDivergence(ReadOnlySpan<double> p, ReadOnlySpan<float> q)
    {
        double pMax = double.MinValue, qMax = double.MinValue;
        for (int i = 0; i < p.Length; i++) { pMax = Math.Max(pMax, p[i]); qMax = Math.Max(qMax, q[i]); }
        double pSum = 0, qSum = 0;
        for (int i = 0; i < p.Length; i++) { pSum += Math.Exp(p[i] - pMax); qSum += Math.Exp(q[i] - qMax); }
        double pLog = pMax + Math.Log(pSum), qLog = qMax + Math.Log(qSum), kl = 0;
        for (int i = 0; i < p.Length; i++)
        {
            double lp = p[i] - pLog, lq = q[i] - qLog;
            kl += Math.Exp(lp) * (lp - lq);
        }
        return kl;
    }
}
