using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Inference;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Tests.Alignment;

/// <summary>Rejection sampling: best-of-K picks the maximum (ties → lowest sample index) on hand-made rollouts; one
/// round of sampling + SFT on the winners raises the policy's exact expected reward under a rule reward (computed from
/// its next-token distribution, not from samples); the same seed gives the same winners.</summary>
public class RejectionSamplingTests
{
    // A tiny Llama over bytes with room for a chat prompt and a short reply.
    internal static LoadedModel Tiny(ulong seed = 5, int context = 128) =>
        new(CausalLM.Create(AdapterSlotTests.Llama with { VocabSize = 256, MaxPositions = context }, seed), ToyTokenizer.Bytes);

    internal static List<AlignmentPrompt> Prompts(int n) =>
        [.. Enumerable.Range(0, n).Select(i => new AlignmentPrompt([new ChatMessage("user", $"Question {i}: say {(char)('a' + i)}")], i % 2 == 0 ? "fact" : "benign", null))];

    /// <summary>Reward 1 when the response's first token is an ASCII byte (id &lt; 128), else 0: about half of a fresh
    /// model's draws, and its expectation is a sum over the next-token distribution.</summary>
    sealed class FirstTokenAscii : IRewardFunction
    {
        public void Score(IReadOnlyList<Rollout> rollouts, IReadOnlyList<string?> promptKinds, Span<float> rewards)
        {
            for (int i = 0; i < rollouts.Count; i++)
            {
                var s = rollouts[i].Sequence;
                int first = Array.IndexOf(s.Trainable, true);
                rewards[i] = s.Ids[first] < 128 ? 1f : 0f;
            }
        }
    }

    // E[reward] of the policy's first response token, exactly: Σ_{id<128} softmax(logits at the prompt's last position).
    static double ExpectedReward(LoadedModel model, RolloutGenerator generator, IReadOnlyList<AlignmentPrompt> prompts)
    {
        double total = 0;
        using var tape = new Tape();
        foreach (var p in prompts)
        {
            int[] ids = generator.EncodePrompt(p.Prompt);
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = model.Decoder.Logits(ids, 1, ids.Length).AsSpan().Slice((ids.Length - 1) * 256, 256);
                double max = double.NegativeInfinity, sum = 0, ascii = 0;
                foreach (float x in logits) max = Math.Max(max, x);
                for (int v = 0; v < 256; v++)
                {
                    double e = Math.Exp(logits[v] - max);
                    sum += e;
                    if (v < 128) ascii += e;
                }
                total += ascii / sum;
            }
        }
        return total / prompts.Count;
    }

    static Rollout R(int prompt, int sample, params int[] response) =>
        new(prompt, sample, new SftExample([1, 2, .. response], [false, false, .. response.Select(_ => true)]), "", false);

    [Fact]
    public void Best_of_k_takes_the_highest_reward_and_ties_go_to_the_lowest_sample()
    {
        // Prompt 0: samples 0–3 score 0.1, 0.7, 0.7, 0.2 → sample 1 (tied with sample 2); prompt 1: −1, −3 → sample 0;
        // prompt 2: a single sample. The rollouts are listed out of order, so the tie rule cannot lean on list order.
        var rollouts = new List<Rollout> { R(0, 2, 5), R(1, 1, 6), R(0, 0, 7), R(2, 0, 8), R(0, 1, 9), R(1, 0, 10), R(0, 3, 11) };
        float[] rewards = [0.7f, -3f, 0.1f, 4f, 0.7f, -1f, 0.2f];
        int[] best = RejectionSampler.BestOfK(rollouts, rewards, 3);
        Assert.Equal([4, 5, 3], best);   // prompt 0 → (0,1); prompt 1 → (1,0); prompt 2 → (2,0)
        Assert.Equal((0, 1), (rollouts[best[0]].Prompt, rollouts[best[0]].Sample));

        rewards[2] = float.NaN;
        Assert.Equal("rejection: prompt 0 sample 0: the reward NaN is not a finite number",
            Assert.Throws<ArgumentException>(() => RejectionSampler.BestOfK(rollouts, rewards, 3)).Message);
        rewards[2] = 0;
        Assert.Equal("rejection: prompt 3 has no samples", Assert.Throws<ArgumentException>(() => RejectionSampler.BestOfK(rollouts, rewards, 4)).Message);
    }

    static RejectionSampler Sampler(LoadedModel model, out RolloutGenerator generator, out ITuningMethod method, int steps = 12, ulong seed = 3)
    {
        generator = new RolloutGenerator(model, ChatTemplate.Named("chatml"), maxNewTokens: 3, parallel: 8);
        method = TuningMethods.Create(model.Model, new TuningOptions { Method = TuningOptions.Full }, 7);
        return new RejectionSampler(model, method, generator, new FirstTokenAscii(), new RejectionOptions
        {
            Samples = 4, Seed = seed,
            Training = new TrainingOptions { Steps = steps, BatchSize = 4, BlockSize = 64, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 9 },
        });
    }

    [Fact]
    public void One_round_of_rejection_sampling_and_sft_raises_the_expected_reward()
    {
        using var model = Tiny();
        var prompts = Prompts(8);
        var sampler = Sampler(model, out var generator, out var method, steps: 30);
        using var owned = method;
        double before = ExpectedReward(model, generator, prompts);
        var round = sampler.Run(prompts, 1, null);
        double after = ExpectedReward(model, generator, prompts);

        Assert.Equal(8, round.Winners.Count);
        Assert.Equal(30, round.TrainSteps);
        Assert.True(double.IsFinite(round.LastLoss));
        Assert.Equal(round.WinnerRewards.Average(r => (double)r), round.MeanBestReward, 12);
        Assert.True(round.MeanBestReward >= round.MeanReward);
        Assert.Equal(round.Winners.Average(w => (double)w.ResponseTokens), round.WinnersMeanTokens, 12);
        Assert.All(round.Winners, w => Assert.Equal(3, w.ResponseTokens));   // no stop token in a byte vocabulary
        // Best of 4 at a ~½ success rate wins ~15/16 of the time, and SFT on those winners shifts the first token's
        // distribution toward ASCII: the exact expectation rises clearly, not by noise.
        Assert.InRange(before, 0.3, 0.7);
        Assert.True(after > before + 0.1, $"expected reward {before:F4} → {after:F4}");
    }

    [Fact]
    public void The_same_seed_gives_the_same_winners_and_another_seed_other_samples()
    {
        RejectionRound Once(ulong seed)
        {
            using var model = Tiny();
            var sampler = Sampler(model, out _, out var method, seed: seed);
            using var owned = method;
            return sampler.Sample(Prompts(6), 1);
        }
        var a = Once(3);
        var b = Once(3);
        Assert.Equal(a.Winners.Select(w => w.Sequence.Ids), b.Winners.Select(w => w.Sequence.Ids));
        Assert.Equal(a.Winners.Select(w => w.Sample), b.Winners.Select(w => w.Sample));
        Assert.Equal(a.MeanReward, b.MeanReward);
        var c = Once(4);
        Assert.NotEqual(a.Winners.Select(w => w.Sequence.Ids).SelectMany(x => x), c.Winners.Select(w => w.Sequence.Ids).SelectMany(x => x));
    }

    [Fact]
    public void Prompt_tuning_is_refused_in_one_line()
    {
        using var model = Tiny();
        var generator = new RolloutGenerator(model, ChatTemplate.Named("chatml"), maxNewTokens: 3);
        using var method = TuningMethods.Create(model.Model, new TuningOptions { Method = TuningOptions.Prompt, VirtualTokens = 2 }, 7);
        var e = Assert.Throws<ArgumentException>(() => new RejectionSampler(model, method, generator, new FirstTokenAscii(), new RejectionOptions()));
        Assert.StartsWith("--method prompt: rejection sampling samples through the batched engine", e.Message);
        Assert.Equal("--samples: 0 must be at least 1", Assert.Throws<ArgumentException>(() => new RejectionOptions { Samples = 0 }.Validate()).Message);
    }
}
