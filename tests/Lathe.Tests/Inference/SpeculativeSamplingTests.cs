using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Inference;

/// <summary>Sampled speculative decoding follows the target's distribution. First the rule alone on small vectors (its
/// output frequencies against p, for drafts q that agree, disagree and miss tokens); then
/// <see cref="SamplerChain.Probabilities"/> against what <see cref="SamplerChain.Sample"/> draws; then whole models: the
/// first three tokens of 3,000 sequences (one seed each) decoded with a draft, against the target's exact joint
/// distribution of those tokens computed by enumerating every prefix.</summary>
public class SpeculativeSamplingTests
{
    /// <summary>The chi-square quantile at significance 1e-4 (Wilson–Hilferty: χ² ≈ df·(1 − 2/(9df) + z·√(2/(9df)))³ with
    /// z = 3.719), the tolerance every frequency test here uses: a correct sampler fails it once in 10,000 seeds, and the
    /// seeds are fixed.</summary>
    static double ChiSquareLimit(int df) => df * Math.Pow(1 - 2.0 / (9 * df) + 3.719 * Math.Sqrt(2.0 / (9 * df)), 3);

    /// <summary>Pearson's statistic of <paramref name="counts"/> (N draws) against <paramref name="p"/>, bins with an
    /// expected count under 5 pooled into one; returns the statistic and its degrees of freedom.</summary>
    static (double Chi, int Df) ChiSquare(IReadOnlyList<double> p, IReadOnlyList<long> counts)
    {
        long n = counts.Sum();
        double chi = 0, pooledExpected = 0, pooledCount = 0;
        int bins = 0;
        for (int i = 0; i < p.Count; i++)
        {
            double e = p[i] * n;
            if (e < 5) { pooledExpected += e; pooledCount += counts[i]; continue; }
            chi += (counts[i] - e) * (counts[i] - e) / e;
            bins++;
        }
        if (pooledExpected > 0) { chi += (pooledCount - pooledExpected) * (pooledCount - pooledExpected) / Math.Max(pooledExpected, 1e-12); bins++; }
        return (chi, bins - 1);
    }

    public static TheoryData<float[], float[]> Vectors => new()
    {
        { [0.5f, 0.3f, 0.2f, 0f, 0f, 0f], [0.2f, 0.3f, 0.5f, 0f, 0f, 0f] },     // same support, other weights
        { [0.4f, 0.4f, 0.2f, 0f, 0f, 0f], [0f, 0f, 0.1f, 0.3f, 0.6f, 0f] },      // mostly disjoint
        { [0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.1f], [0.1f, 0.2f, 0.3f, 0.1f, 0.2f, 0.1f] },   // equal: always accepted
        { [0.25f, 0.25f, 0.25f, 0f, 0f, 0.25f], [0.5f, 0.3f, 0.2f] },            // a draft vocabulary shorter than the target's
    };

    [Theory]
    [MemberData(nameof(Vectors))]
    public void The_acceptance_rule_outputs_p_whatever_q_is(float[] p, float[] q)
    {
        var rng = new Philox(21);
        const int N = 200_000;
        var counts = new long[p.Length];
        long accepted = 0;
        for (int i = 0; i < N; i++)
        {
            int x = SpeculativeSampling.Draw(q, rng.NextFloat());
            int token;
            if (SpeculativeSampling.Accept(p[x], q[x], rng.NextFloat())) { token = x; accepted++; }
            else token = SpeculativeSampling.DrawResidual(p, q, rng.NextFloat());
            counts[token]++;
        }
        var (chi, df) = ChiSquare([.. p.Select(v => (double)v)], counts);
        Assert.True(chi < ChiSquareLimit(df), $"χ² {chi:F1} with {df} df");
        for (int i = 0; i < p.Length; i++) if (p[i] == 0) Assert.Equal(0, counts[i]);
        // The acceptance rate is Σ min(p, q) (Leviathan et al., Definition 3.1's 1 − α complement).
        double expected = q.Select((v, i) => Math.Min(v, p[i])).Sum();
        Assert.InRange((double)accepted / N, expected - 0.005, expected + 0.005);
    }

    public static TheoryData<SamplingOptions> Chains => new()
    {
        new SamplingOptions { Temperature = 0.7f, TopK = 0, TopP = 1, MinP = 0, Seed = 2 },
        new SamplingOptions { Temperature = 1.3f, TopK = 3, TopP = 1, MinP = 0, Seed = 3 },
        new SamplingOptions { Temperature = 1, TopK = 0, TopP = 0.8f, MinP = 0, Seed = 4 },
        new SamplingOptions { Temperature = 0.9f, TopK = 5, TopP = 0.95f, MinP = 0.1f, RepetitionPenalty = 1.5f, FrequencyPenalty = 0.2f, Seed = 5 },
    };

    static readonly float[] Logits = [2.0f, 1.0f, 0.5f, -1.0f, 3.0f, 0.2f, 1.7f];
    static readonly int[] History = [4, 4, 6];

    [Theory]
    [MemberData(nameof(Chains))]
    public void Probabilities_are_what_sample_draws_from(SamplingOptions options)
    {
        var probabilities = new float[Logits.Length];
        new SamplerChain(options).Probabilities(Logits, History, probabilities);
        Assert.Equal(1.0, probabilities.Sum(), 1e-5);
        var chain = new SamplerChain(options);
        const int N = 100_000;
        var counts = new long[Logits.Length];
        for (int i = 0; i < N; i++) counts[chain.Sample(Logits, History)]++;
        var (chi, df) = ChiSquare([.. probabilities.Select(v => (double)v)], counts);
        Assert.True(chi < ChiSquareLimit(df), $"χ² {chi:F1} with {df} df");
        for (int i = 0; i < Logits.Length; i++) if (probabilities[i] == 0) Assert.Equal(0, counts[i]);
    }

    [Fact]
    public void Probabilities_match_hand_computed_values()
    {
        float[] logits = [2.0f, 1.0f, 0.5f, -1.0f, 3.0f];   // softmax ≈ [.219, .081, .049, .011, .640]
        var p = new float[5];
        new SamplerChain(new() { Temperature = 1, TopK = 2, TopP = 1, MinP = 0 }).Probabilities(logits, [], p);
        double e = Math.Exp(1);                               // top-k 2 keeps ids 4 and 0: e³ : e² = e : 1
        Assert.Equal([1 / (1 + e), 0, 0, 0, e / (1 + e)], p.Select(v => (double)v).ToArray(), (a, b) => Math.Abs(a - b) < 1e-6);
        new SamplerChain(new() { Temperature = 0, LogitBias = new Dictionary<int, float> { [3] = 10 } }).Probabilities(logits, [], p);
        Assert.Equal([0f, 0f, 0f, 1f, 0f], p);              // greedy: one-hot at the biased argmax
        new SamplerChain(new() { Temperature = 0.5f, TopK = 0, TopP = 1, MinP = 0 }).Probabilities(logits, [], p);
        double[] soft = [.. logits.Select(l => Math.Exp(2 * l))];
        Assert.Equal(soft.Select(v => v / soft.Sum()).ToArray(), p.Select(v => (double)v).ToArray(), (a, b) => Math.Abs(a - b) < 1e-6);
    }

    /// <summary>The target's exact probability of every 3-token continuation of <paramref name="prompt"/> under
    /// <paramref name="options"/> (top-k 3: at most 27), by running every prefix.</summary>
    static Dictionary<(int, int, int), double> Joint(CausalLM model, int[] prompt, SamplingOptions options)
    {
        int V = model.Config.VocabSize;
        var joint = new Dictionary<(int, int, int), double>();
        using var tape = new Tape();
        float[] Next(List<int> prefix)
        {
            using var one = new OneSequenceCache(model.Config);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = Ops.Contiguous(one.LastLogits(model, prefix.ToArray())).ToArray();
                var p = new float[V];
                new SamplerChain(options).Probabilities(logits, prefix.ToArray(), p);
                return p;
            }
        }
        var p1 = Next([.. prompt]);
        for (int a = 0; a < V; a++)
        {
            if (p1[a] == 0) continue;
            var p2 = Next([.. prompt, a]);
            for (int b = 0; b < V; b++)
            {
                if (p2[b] == 0) continue;
                var p3 = Next([.. prompt, a, b]);
                for (int c = 0; c < V; c++) if (p3[c] > 0) joint[(a, b, c)] = (double)p1[a] * p2[b] * p3[c];
            }
        }
        return joint;
    }

    /// <summary>The first three tokens of <paramref name="count"/> sequences (seeds 1 … count), decoded in batches of
    /// 500 by <see cref="SpeculativeDecoder.Step"/>; also returns the acceptance rate.</summary>
    static (Dictionary<(int, int, int), long> Counts, double Acceptance, double ProposedPerStep) Speculate(CausalLM target, CausalLM draft,
        int[] prompt, SamplingOptions options, int k, int count, float pMin)
    {
        var counts = new Dictionary<(int, int, int), long>();
        long proposed = 0, accepted = 0, steps = 0;
        const int batch = 500;
        using var decoder = new SpeculativeDecoder(target, draft);
        using var tape = new Tape();
        for (int start = 0; start < count; start += batch)
        {
            int n = Math.Min(batch, count - start);
            using var targetCache = new PagedKvCache(target.Config, blocks: n + 2);
            using var draftCache = new PagedKvCache(draft.Config, blocks: n + 2);
            int prefilled = targetCache.AddSequence();
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                targetCache.Forward(target, prompt.AsSpan(0, prompt.Length - 1), prefilled);
            var sequences = new List<SpeculativeSequence>();
            for (int i = 0; i < n; i++)
                sequences.Add(new SpeculativeSequence(targetCache.Fork(prefilled), draftCache.AddSequence(), prompt,
                    options with { Seed = (ulong)(start + i + 1) }) { DraftTokens = k, MinDraftProbability = pMin });
            var running = sequences.ToList();
            while (running.Count > 0)
            {
                decoder.Step(targetCache, draftCache, running);
                steps += running.Count;
                running.RemoveAll(s => s.Tokens.Count >= prompt.Length + 3);
            }
            foreach (var s in sequences)
            {
                var key = (s.Tokens[prompt.Length], s.Tokens[prompt.Length + 1], s.Tokens[prompt.Length + 2]);
                counts[key] = counts.GetValueOrDefault(key) + 1;
                proposed += s.Proposed;
                accepted += s.Accepted;
            }
        }
        return (counts, (double)accepted / proposed, (double)proposed / steps);
    }

    /// <remarks>llama-tiny (V = 256) for both drafts: the rule does not depend on the architecture (the greedy tests
    /// cover gpt2 and llama), and a small vocabulary keeps 3,000 sequences' distributions cheap.</remarks>
    [Theory]
    [InlineData("twin", 0f)]      // the draft is the target quantized to Q4_0: close to p, often accepted
    [InlineData("other", 0f)]     // a random 1-layer draft: mostly rejected, the residual draws carry the output
    [InlineData("twin", 0.4f)]    // the draft stops where its best token is below 0.4: fewer proposals, same p
    public void The_first_tokens_follow_the_targets_distribution(string draftKind, float pMin)
    {
        const string preset = "llama-tiny";
        using var target = SpeculativeGreedyTests.Model(preset, 5);
        using var draft = draftKind == "twin" ? SpeculativeGreedyTests.Model(preset, 5, "q4_0") : SpeculativeGreedyTests.Model(preset, 8, layers: 1, embd: 64);
        // Top-k 3 keeps 27 outcomes; a repetition penalty makes each position's p depend on the proposals before it.
        var options = new SamplingOptions { Temperature = 0.8f, TopK = 3, TopP = 1, MinP = 0, RepetitionPenalty = 1.3f };
        int[] prompt = SpeculativeGreedyTests.Prompts(target.Config.VocabSize, 6)[0];
        var joint = Joint(target, prompt, options);
        var (counts, acceptance, proposedPerStep) = Speculate(target, draft, prompt, options, k: 3, count: 3000, pMin);

        var keys = joint.Keys.ToList();
        Assert.All(counts.Keys, key => Assert.Contains(key, joint.Keys));   // nothing the target cannot produce
        var (chi, df) = ChiSquare([.. keys.Select(key => joint[key])], [.. keys.Select(key => counts.GetValueOrDefault(key))]);
        Assert.True(chi < ChiSquareLimit(df), $"χ² {chi:F1} with {df} df (limit {ChiSquareLimit(df):F1}), acceptance {acceptance:F2}");

        // The test has power: the draft's own distribution (what always accepting would give) is far outside the limit.
        var draftJoint = Joint(draft, prompt, options);
        double divergence = keys.Sum(key => Math.Pow(draftJoint.GetValueOrDefault(key) - joint[key], 2) / joint[key]);
        Assert.True(3000 * divergence > 3 * ChiSquareLimit(df), $"draft too close to the target to tell: N·χ²-divergence {3000 * divergence:F1}");
        Assert.InRange(acceptance, draftKind == "twin" ? 0.2 : 0.0, draftKind == "twin" ? 0.99 : 0.2);
        // The cut-off is in effect: fewer proposals per step than k.
        if (pMin > 0) Assert.InRange(proposedPerStep, 0.05, 2.5);
        else Assert.True(proposedPerStep > 2.5, $"{proposedPerStep:F2} proposals per step");
    }
}
