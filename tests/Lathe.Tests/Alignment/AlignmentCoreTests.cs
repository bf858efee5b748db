using Lathe.Alignment;
using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Tests.Training;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Tuning;

namespace Lathe.Tests.Alignment;

/// <summary>The alignment core on a tiny model: response log-probabilities against a direct log-softmax, the reward
/// model and DPO objectives through the trainer (their first loss is ln 2, they learn a preference that can be
/// learned, and they resume bit for bit), and the reference log-probabilities saved once.</summary>
public class AlignmentCoreTests
{
    static ModelConfig Tiny => AdapterSlotTests.Gpt2;   // gpt2, vocab 64, context 16

    // A prompt of 3–5 tokens, then a response; the chosen response ends in 7 7, the rejected in 9 9, so a preference
    // between them can be learned from the response tokens alone.
    static SftExample Example(int[] prompt, int[] response)
    {
        var ids = prompt.Concat(response).ToArray();
        var trainable = ids.Select((_, i) => i >= prompt.Length).ToArray();
        return new SftExample(ids, trainable);
    }

    static List<EncodedPair> Pairs(int n)
    {
        var pairs = new List<EncodedPair>();
        for (int i = 0; i < n; i++)
        {
            int[] prompt = [.. Enumerable.Range(0, 3 + i % 3).Select(k => 10 + (i * 7 + k * 3) % 40)];
            int shared = 20 + i % 11;
            pairs.Add(new EncodedPair(Example(prompt, [shared, 7, 7]), Example(prompt, [shared, 9, 9])));
        }
        return pairs;
    }

    static TrainingOptions Options(int steps, float lr = 3e-3f) => new()
    {
        Steps = steps, BatchSize = 4, BlockSize = 10, GradAccum = 2, LearningRate = lr, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 5,
    };

    [Fact]
    public void Response_log_probabilities_are_the_log_softmax_of_the_response_tokens_summed()
    {
        using var model = CausalLM.Create(Tiny, 4);
        var pairs = Pairs(3);
        var rows = new ResponseRows(6, 10);
        for (int i = 0; i < 3; i++) { rows.Set(2 * i, pairs[i].Chosen, 0); rows.Set(2 * i + 1, pairs[i].Rejected, 0); }
        rows.Complete();
        float[] sums;
        float[] logits;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            sums = new SequenceLogProbs().Sums(model, null, rows).ToArray();
            logits = model.Logits(rows.Inputs, 6, 10).ToArray();
        }
        int V = Tiny.VocabSize;
        for (int b = 0; b < 6; b++)
        {
            double expected = 0;
            var example = b % 2 == 0 ? pairs[b / 2].Chosen : pairs[b / 2].Rejected;
            for (int t = 0; t + 1 < example.Ids.Length; t++)
            {
                if (!example.Trainable[t + 1]) continue;
                var row = logits.AsSpan((b * 10 + t) * V, V);
                double max = double.NegativeInfinity, sum = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) sum += Math.Exp(x - max);
                expected += row[example.Ids[t + 1]] - max - Math.Log(sum);
            }
            Assert.Equal(expected, sums[b], 4);
            Assert.Equal(3, rows.ResponseTokens(b));
        }
    }

    [Fact]
    public void The_reward_loss_starts_at_ln2_and_the_model_learns_to_rank_the_chosen_response_higher()
    {
        using var model = CausalLM.Create(Tiny, 4);
        var reward = new RewardModel(model);
        var method = new HeadedMethod(FullFineTuning.Attach(model), [reward.Head], reward.SaveHead, reward.LoadHead);
        var pairs = Pairs(12);
        using var trainer = new Trainer(model, Options(40, 1e-2f), new PairBatchSource(pairs, 3, 0), null, null, null,
            new RewardObjective(reward, null), method.Trainable, method: method);
        float first = trainer.TrainStep();
        Assert.Equal(Math.Log(2), first, 6);
        while (trainer.Step < 40) trainer.TrainStep();
        var accuracy = PairwiseAccuracy(reward, pairs);
        Assert.Equal(1.0, accuracy);
    }

    static double PairwiseAccuracy(RewardModel reward, List<EncodedPair> pairs)
    {
        var rows = new ResponseRows(2 * pairs.Count, 10);
        for (int i = 0; i < pairs.Count; i++) { rows.Set(2 * i, pairs[i].Chosen, 0); rows.Set(2 * i + 1, pairs[i].Rejected, 0); }
        rows.Complete();
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var s = reward.Scores(null, rows).ToArray();
            return Enumerable.Range(0, pairs.Count).Count(i => s[2 * i] > s[2 * i + 1]) / (double)pairs.Count;
        }
    }

    [Theory]
    [InlineData(DpoLossType.Sigmoid, 0f)]
    [InlineData(DpoLossType.Sigmoid, 0.1f)]
    public void DPO_starts_at_ln2_when_the_policy_is_its_reference_and_learns_the_preference(DpoLossType type, float smoothing)
    {
        using var model = CausalLM.Create(Tiny, 4);
        var pairs = Pairs(12);
        var (refC, refR) = ReferenceLogProbs.Compute(model, null, pairs, 4, 10, 0, average: false);
        var objective = new DpoObjective(null, refC, refR, new DpoSettings(0.5f, type, smoothing));
        using var trainer = new Trainer(model, Options(30, 1e-2f), new PairBatchSource(pairs, 3, 0), null, null, null, objective);
        float first = trainer.TrainStep();
        Assert.Equal(Math.Log(2), first, 6);   // policy = reference: every logit is 0, and −log σ(0) = ln 2 whatever the smoothing
        Assert.Null(objective.TakeStepMetrics());   // the trainer took the step's figures
        var figures = trainer.LastStepMetrics!.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(0, figures["rewards/chosen"]);
        Assert.Equal(0, figures["rewards/margins"]);
        while (trainer.Step < 30) trainer.TrainStep();
        var (c, r) = ReferenceLogProbs.Compute(model, null, pairs, 4, 10, 0, average: false);
        for (int i = 0; i < pairs.Count; i++)
            Assert.True(c[i] - refC[i] > r[i] - refR[i], $"pair {i}: the chosen response's log-ratio must exceed the rejected one's");
    }

    [Fact]
    public void DPO_through_LoRA_starts_at_ln2_trains_only_the_adapter_and_learns_the_preference()
    {
        using var model = CausalLM.Create(Tiny, 4);
        float[] baseBefore = model.Parameters[0].Value.ToArray();
        using var lora = LoraMethod.Attach(model, new LoraConfig { Rank = 4, Alpha = 8, TargetModules = ["c_attn", "c_fc", "c_proj"], FanInFanOut = true }, seed: 2);
        var pairs = Pairs(12);
        // The adapter starts as a zero update (B = 0): the reference is the policy as it starts, adapter attached.
        var (refC, refR) = ReferenceLogProbs.Compute(model, lora, pairs, 4, 10, 0, average: false);
        using var trainer = new Trainer(model, Options(40, 2e-2f), new PairBatchSource(pairs, 3, 0), null, null, null,
            new DpoObjective(lora, refC, refR, new DpoSettings(0.5f)), lora.Trainable, method: lora);
        Assert.Equal(Math.Log(2), trainer.TrainStep(), 6);
        while (trainer.Step < 40) trainer.TrainStep();
        Assert.Equal(baseBefore, model.Parameters[0].Value.ToArray());   // the base is frozen
        var (c, r) = ReferenceLogProbs.Compute(model, lora, pairs, 4, 10, 0, average: false);
        int learned = Enumerable.Range(0, pairs.Count).Count(i => c[i] - refC[i] > r[i] - refR[i]);
        Assert.True(learned >= 10, $"{learned} of 12 pairs moved the right way");
    }

    [Fact]
    public void DPO_and_the_reward_model_through_prompt_tuning_read_past_the_virtual_rows()
    {
        // Prompt tuning puts P trained rows before every row: the scored positions and the last token shift by P.
        using var model = CausalLM.Create(Tiny, 4);
        float[] baseBefore = model.Parameters[0].Value.ToArray();
        using var prompt = PromptTuning.Attach(model, new PromptTuningConfig { VirtualTokens = 4 }, seed: 2);
        var pairs = Pairs(8);
        var (refC, refR) = ReferenceLogProbs.Compute(model, prompt, pairs, 4, 10, 0, average: false);
        // The oracle for one row: the full (B, P + T) forward's log-softmax at the shifted positions.
        var rows = new ResponseRows(1, 10);
        rows.Set(0, pairs[0].Chosen, 0);
        rows.Complete();
        double expected = 0;
        using (var tape = new Tape())
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var logits = model.Logits(prompt.Embed(rows.Inputs, 1, 10), 1, 14).ToArray();
            int V = Tiny.VocabSize;
            var ids = pairs[0].Chosen.Ids;
            for (int t = 0; t + 1 < ids.Length; t++)
            {
                if (!pairs[0].Chosen.Trainable[t + 1]) continue;
                var row = logits.AsSpan((4 + t) * V, V);
                double max = double.NegativeInfinity, z = 0;
                foreach (float x in row) max = Math.Max(max, x);
                foreach (float x in row) z += Math.Exp(x - max);
                expected += row[ids[t + 1]] - max - Math.Log(z);
            }
        }
        Assert.Equal(expected, refC[0], 4);

        using (var trainer = new Trainer(model, Options(20, 5e-2f), new PairBatchSource(pairs, 3, 0), null, null, null,
                   new DpoObjective(prompt, refC, refR, new DpoSettings(0.5f)), prompt.Trainable, method: prompt))
        {
            Assert.Equal(Math.Log(2), trainer.TrainStep(), 6);
            while (trainer.Step < 20) trainer.TrainStep();
        }
        var (c, r) = ReferenceLogProbs.Compute(model, prompt, pairs, 4, 10, 0, average: false);
        Assert.True(Enumerable.Range(0, pairs.Count).Count(i => c[i] - refC[i] > r[i] - refR[i]) >= 6, "the soft prompt learns the preference");
        Assert.Equal(baseBefore, model.Parameters[0].Value.ToArray());   // only the virtual rows trained

        var reward = new RewardModel(model);
        var headed = new HeadedMethod(prompt, [reward.Head], reward.SaveHead, reward.LoadHead);
        using var rm = new Trainer(model, Options(4), new PairBatchSource(pairs, 3, 0), null, null, null, new RewardObjective(reward, prompt), headed.Trainable, method: headed);
        Assert.Equal(Math.Log(2), rm.TrainStep(), 6);
    }

    [Fact]
    public void RPO_adds_alpha_times_the_chosen_replies_mean_NLL()
    {
        using var model = CausalLM.Create(Tiny, 4);
        var pairs = Pairs(8);
        var (refC, refR) = ReferenceLogProbs.Compute(model, null, pairs, 4, 10, 0, average: false);
        // The oracle: the first batch's chosen log-probabilities from the same rows, summed and divided by their tokens.
        var source = new PairBatchSource(pairs, 3, 0);
        source.Next(new int[40], new int[40], new float[40], 4, 10);
        var first = (PairBatch)source.Payload!;
        double nll = 0;
        int tokens = 0;
        foreach (int i in first.PairIndex) { nll -= refC[i]; tokens += 3; }
        nll /= tokens;
        using var trainer = new Trainer(model, Options(4), new PairBatchSource(pairs, 3, 0), null, null, null,
            new DpoObjective(null, refC, refR, new DpoSettings(0.5f), rpoAlpha: 0.7f));
        // Two micro-batches (GradAccum 2): the trainer's loss is their mean; compare the first alone through one step's mean.
        float loss = trainer.TrainStep();
        source.Next(new int[40], new int[40], new float[40], 4, 10);
        var second = (PairBatch)source.Payload!;
        double nll2 = 0;
        foreach (int i in second.PairIndex) nll2 -= refC[i];
        nll2 /= 3 * second.Pairs;
        Assert.Equal(Math.Log(2) + 0.7 * (nll + nll2) / 2, loss, 5);
    }

    [Fact]
    public void IPO_starts_at_its_target_squared_when_the_policy_is_its_reference()
    {
        using var model = CausalLM.Create(Tiny, 4);
        var pairs = Pairs(8);
        var (refC, refR) = ReferenceLogProbs.Compute(model, null, pairs, 4, 10, 0, average: true);
        float beta = 0.5f;
        var objective = new DpoObjective(null, refC, refR, new DpoSettings(beta, DpoLossType.Ipo));
        using var trainer = new Trainer(model, Options(4), new PairBatchSource(pairs, 3, 0), null, null, null, objective);
        Assert.Equal(Math.Pow(1 / (2 * beta), 2), trainer.TrainStep(), 5);   // (0 − 1/(2β))²
    }

    [Fact]
    public void A_reward_model_run_resumes_bit_for_bit_with_its_head()
    {
        var pairs = Pairs(10);
        ExactResume.Check(seed => CausalLM.Create(Tiny, seed), () => new PairBatchSource(pairs, 3, 0),
            (model, source, run) =>
            {
                var reward = new RewardModel((CausalLM)model);
                var method = new HeadedMethod(FullFineTuning.Attach(model), [reward.Head], reward.SaveHead, reward.LoadHead);
                return new Trainer(model, Options(6), source, null, run, null, new RewardObjective(reward, null), method.Trainable, method: method);
            }, n: 3);
    }

    [Fact]
    public void A_DPO_run_resumes_bit_for_bit_and_logs_TRL_s_reward_figures()
    {
        var pairs = Pairs(10);
        float[]? refC = null, refR = null;
        ExactResume.Check(seed => CausalLM.Create(Tiny, seed), () => new PairBatchSource(pairs, 3, 0),
            (model, source, run) =>
            {
                // The reference is computed once, from the first run's initial weights (as a run folder keeps it).
                if (refC is null) (refC, refR) = ReferenceLogProbs.Compute((CausalLM)model, null, pairs, 4, 10, 0, average: false);
                return new Trainer(model, Options(6), source, null, run, null, new DpoObjective(null, refC, refR!, new DpoSettings(0.3f)));
            }, n: 3);
    }

    [Fact]
    public void Reference_log_probabilities_round_trip_and_a_file_for_other_data_is_refused()
    {
        string dir = CheckpointTests.TempDir();
        string path = Path.Combine(dir, ReferenceLogProbs.FileName);
        ReferenceLogProbs.Save(path, [1f, -2.5f], [0.25f, 3f]);
        var (c, r) = ReferenceLogProbs.Load(path, 2);
        Assert.Equal([1f, -2.5f], c);
        Assert.Equal([0.25f, 3f], r);
        var e = Assert.Throws<InvalidDataException>(() => ReferenceLogProbs.Load(path, 3));
        Assert.Contains("2 reference log-probabilities for 3 pairs", e.Message);
    }

    [Fact]
    public void An_odd_batch_or_an_overlong_sequence_is_refused_by_name()
    {
        var source = new PairBatchSource(Pairs(2), 3, 0);
        Assert.Contains("must be even", Assert.Throws<ArgumentException>(() => source.Next(new int[30], new int[30], new float[30], 3, 10)).Message);
        var rows = new ResponseRows(1, 4);
        Assert.Contains("does not fit rows of 4", Assert.Throws<ArgumentException>(() => rows.Set(0, Example([1, 2, 3], [4, 5]), 0)).Message);
    }
}
