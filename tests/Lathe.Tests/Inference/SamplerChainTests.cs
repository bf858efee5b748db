using Lathe.Inference;

namespace Lathe.Tests.Inference;

public class SamplerChainTests
{
    static readonly float[] Logits = [2.0f, 1.0f, 0.5f, -1.0f, 3.0f];   // softmax ≈ [.219, .081, .049, .011, .640]

    static double[] Frequencies(SamplingOptions o, int draws = 40_000)
    {
        var s = new SamplerChain(o);
        var counts = new double[Logits.Length];
        for (int i = 0; i < draws; i++) counts[s.Sample(Logits, [])]++;
        return counts.Select(c => c / draws).ToArray();
    }

    static double[] Softmax(float[] x, double t = 1)
    {
        var e = x.Select(v => Math.Exp(v / t)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    [Fact]
    public void Temperature_zero_is_greedy_and_top_k_one_agrees()
    {
        Assert.Equal(4, new SamplerChain(new() { Temperature = 0 }).Sample(Logits, []));
        var s = new SamplerChain(new() { Temperature = 1, TopK = 1, TopP = 1, MinP = 0 });
        for (int i = 0; i < 100; i++) Assert.Equal(4, s.Sample(Logits, []));
    }

    [Fact]
    public void Untruncated_sampling_follows_the_softmax()
    {
        // 40,000 draws: each frequency has sd ≤ 0.0025; allow 4 sd.
        var f = Frequencies(new() { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, Seed = 3 });
        var p = Softmax(Logits);
        for (int i = 0; i < p.Length; i++) Assert.InRange(f[i], p[i] - 0.01, p[i] + 0.01);
        var f2 = Frequencies(new() { Temperature = 0.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 4 });
        var p2 = Softmax(Logits, 0.5);
        for (int i = 0; i < p2.Length; i++) Assert.InRange(f2[i], p2[i] - 0.01, p2[i] + 0.01);
    }

    [Fact]
    public void Top_k_top_p_and_min_p_truncate_as_specified()
    {
        // top-k 2 keeps ids 4 and 0, renormalised.
        var f = Frequencies(new() { Temperature = 1, TopK = 2, TopP = 1, MinP = 0, Seed = 5 });
        Assert.Equal(0, f[1] + f[2] + f[3]);
        Assert.InRange(f[4], 0.745 - 0.01, 0.745 + 0.01);     // .640/(.640+.219)
        // top-p 0.8: cumulative .640, .859 → keeps {4, 0}.
        f = Frequencies(new() { Temperature = 1, TopK = 0, TopP = 0.8f, MinP = 0, Seed = 6 });
        Assert.Equal(0, f[1] + f[2] + f[3]);
        // min-p 0.1: floor .064 → keeps {4, 0, 1}.
        f = Frequencies(new() { Temperature = 1, TopK = 0, TopP = 1, MinP = 0.1f, Seed = 7 });
        Assert.Equal(0, f[2] + f[3]);
        Assert.True(f[1] > 0.05);
    }

    [Fact]
    public void Penalties_and_bias_change_the_greedy_choice()
    {
        // Repetition penalty 2 on token 4 (seen): 3.0 → 1.5 < 2.0, so token 0 wins.
        Assert.Equal(0, new SamplerChain(new() { Temperature = 0, RepetitionPenalty = 2 }).Sample(Logits, [4]));
        // Frequency 0.6 × 2 occurrences + presence 0.5: 3.0 − 1.7 = 1.3 < 2.0.
        Assert.Equal(0, new SamplerChain(new() { Temperature = 0, FrequencyPenalty = 0.6f, PresencePenalty = 0.5f }).Sample(Logits, [4, 4]));
        // Outside the penalty window, the occurrence no longer counts.
        Assert.Equal(4, new SamplerChain(new() { Temperature = 0, RepetitionPenalty = 2, PenaltyWindow = 1 }).Sample(Logits, [4, 1]));
        Assert.Equal(3, new SamplerChain(new() { Temperature = 0, LogitBias = new Dictionary<int, float> { [3] = 10 } }).Sample(Logits, []));
    }

    [Fact]
    public void The_same_seed_gives_the_same_tokens_and_bad_options_are_named()
    {
        var a = new SamplerChain(new() { Seed = 9 });
        var b = new SamplerChain(new() { Seed = 9 });
        for (int i = 0; i < 200; i++) Assert.Equal(a.Sample(Logits, []), b.Sample(Logits, []));
        Assert.Contains("top-p", Assert.Throws<ArgumentException>(() => new SamplerChain(new() { TopP = 0 })).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => new SamplerChain(new() { Temperature = -1 })).Message);
    }
}
