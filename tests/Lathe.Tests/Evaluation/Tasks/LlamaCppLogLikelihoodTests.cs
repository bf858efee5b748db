using System.Text.Json;
using Lathe.Evaluation.Tasks;
using Lathe.Formats;
using Lathe.Tests.Inference;

namespace Lathe.Tests.Evaluation.Tasks;

/// <summary>A GGUF model's log-likelihoods through the task scorer against llama.cpp's on the same file (recorded by
/// make_llama_cpp_loglik_reference.mjs from llama.cpp's raw logits, F32 KV cache, flash attention off): the sum of
/// log p(continuation | context) and whether each continuation is llama.cpp's greedy choice.</summary>
public class LlamaCppLogLikelihoodTests
{
    // F32: both engines compute in float32 and the parity tests bound |Δlogit| by 1e-4, so a token's log-probability
    // moves by at most 2e-4 (measured: 7e-6 over 18 tokens). F16 and Q8_0: each engine rounds activations its own way
    // (half precision; 8-bit blocks), which moves the logits of these random models (magnitudes ~30) by ~1e-3 relative
    // and an unlikely token's log-probability with them: the bound is 1% of |log-likelihood| (measured at most 0.6%
    // for Q8_0, 0.02% for F16). The greedy flags and the order of choices sharing a context must agree exactly.
    [Theory]
    [InlineData("gpt2vocab-f32", 2e-4, 0)]
    [InlineData("gpt2vocab-q8_0", 0, 1e-2)]
    [InlineData("spm-f16", 0, 1e-2)]
    public void Log_likelihoods_match_llama_cpp(string name, double perToken, double relative)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Evaluation", "Tasks", "fixtures", "llama_cpp_loglik_reference.json");
        var reference = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("models").GetProperty(name);
        var requests = reference.EnumerateArray().Select(r => new LogLikelihoodRequest(
            r.GetProperty("context").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
            r.GetProperty("continuation").EnumerateArray().Select(e => e.GetInt32()).ToArray())).ToList();
        using var model = GgufModelLoader.Load(GgufParityTests.Fixture(name + ".gguf"));
        using var scorer = new LogLikelihoodScorer(model);
        var scores = scorer.Score(requests);
        int i = 0;
        foreach (var r in reference.EnumerateArray())
        {
            double expected = r.GetProperty("loglikelihood").GetDouble();
            double bound = perToken * requests[i].Continuation.Length + relative * Math.Abs(expected);
            Assert.True(Math.Abs(expected - scores[i].Value) <= bound, $"{name} request {i}: Lathe {scores[i].Value}, llama.cpp {expected}, bound {bound}");
            Assert.Equal(r.GetProperty("is_greedy").GetBoolean(), scores[i].IsGreedy);
            i++;
        }
        // Requests 2 and 3 are two answers to one question: the more likely one is the same in both engines.
        var lls = reference.EnumerateArray().Select(r => r.GetProperty("loglikelihood").GetDouble()).ToArray();
        Assert.Equal(lls[2] > lls[3], scores[2].Value > scores[3].Value);
    }
}
