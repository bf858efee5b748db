using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Inference;

/// <summary>Beam search against exhaustive search and greedy decoding, with log-probabilities recomputed from
/// scratch (no cache) as the oracle.</summary>
public class BeamSearchTests
{
    static readonly int[] Prompt = [1, 4, 2];

    // log p(continuation | prompt) by one uncached forward over the whole sequence.
    static double SequenceLogProb(CausalLM model, int[] prompt, IReadOnlyList<int> continuation)
    {
        int[] ids = [.. prompt, .. continuation];
        int V = model.Config.VocabSize;
        using var tape = new Tape();
        float[] logits;
        using (tape.Activate())
        using (Tape.NoGrad())
            logits = model.Logits(ids, 1, ids.Length).ToArray();
        double total = 0;
        for (int i = 0; i < continuation.Count; i++)
        {
            int row = prompt.Length - 1 + i;
            double max = double.NegativeInfinity, sum = 0;
            for (int v = 0; v < V; v++) max = Math.Max(max, logits[row * V + v]);
            for (int v = 0; v < V; v++) sum += Math.Exp(logits[row * V + v] - max);
            total += logits[row * V + continuation[i]] - max - Math.Log(sum);
        }
        return total;
    }

    [Theory]
    [InlineData("llama-tiny")]
    [InlineData("gpt2-tiny")]
    public void A_beam_as_wide_as_the_tree_finds_the_most_likely_sequence(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset) with { VocabSize = 5 };
        using var model = CausalLM.Create(config, 21);
        const int length = 3;
        // Exhaustive: all 5³ continuations.
        double best = double.NegativeInfinity;
        int[] bestSeq = [];
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++)
                for (int c = 0; c < 5; c++)
                {
                    double lp = SequenceLogProb(model, Prompt, [a, b, c]);
                    if (lp > best) { best = lp; bestSeq = [a, b, c]; }
                }
        // Width V^(length-1) keeps every prefix alive, so the search is exact.
        using var search = new BeamSearch(model, new BeamSearchOptions { Beams = 25, LengthPenalty = 0 });
        var top = search.Search(Prompt, length)[0];
        Assert.Equal(bestSeq, top.Tokens);
        Assert.Equal(best, top.LogProb, 4);
    }

    [Fact]
    public void One_beam_is_greedy_decoding()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny");
        using var model = CausalLM.Create(config, 3);
        using var generator = new Generator(model);
        var greedy = generator.Generate(Prompt, 12, new SamplingOptions { Temperature = 0 }).ToArray();
        using var search = new BeamSearch(model, new BeamSearchOptions { Beams = 1 });
        Assert.Equal(greedy, search.Search(Prompt, 12)[0].Tokens);
    }

    [Fact]
    public void Every_hypothesis_carries_its_true_log_probability_and_stop_tokens_finish_beams()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny") with { VocabSize = 7 };
        using var model = CausalLM.Create(config, 8);
        var stop = new HashSet<int> { 3 };
        using var search = new BeamSearch(model, new BeamSearchOptions { Beams = 4, LengthPenalty = 1f });
        var results = search.Search(Prompt, 6, stop);
        Assert.NotEmpty(results);
        Assert.Contains(results, h => h.Finished);   // with 7 tokens and 4 beams over 6 steps, some beam picks token 3
        for (int i = 0; i < results.Count; i++)
        {
            var h = results[i];
            Assert.DoesNotContain(3, h.Tokens);
            // A finished hypothesis's log-probability includes choosing the stop token.
            var scored = h.Finished ? [.. h.Tokens, 3] : h.Tokens.ToList();
            Assert.Equal(SequenceLogProb(model, Prompt, scored), h.LogProb, 4);
            Assert.Equal(h.LogProb / Math.Max(h.Tokens.Length, 1), h.Score, 9);
            if (i > 0) Assert.True(results[i - 1].Score >= h.Score, "hypotheses must be sorted best first");
        }
    }
}
