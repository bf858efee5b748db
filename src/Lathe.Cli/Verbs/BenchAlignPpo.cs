using System.Diagnostics;
using Lathe.Alignment;
using Lathe.Data;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tokenizers;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench align --method ppo`: one PPO optimisation phase (<see cref="PpoTrainer.OptimisePhase"/>) over
/// R synthetic rollouts of prompt + response random ids, full fine-tuning: the reward model's scores (its own trunk and
/// score head), the policy's old log-probabilities, values and entropy and the frozen reference's log-probabilities
/// (no-grad), GAE, then PpoOptions' epochs (4) of clipped policy + value losses over shuffled minibatches (4 rollouts),
/// each with backward, clipping and AdamW. Generation of the rollouts is timed apart, through the batched inference
/// engine (R prompts decoding together, sampled at temperature 1, no stop token), and is not in the phase.</summary>
/// <remarks>Tokens counted: the rollouts' tokens, R·(prompt + response) per phase, however many passes the phase makes
/// over them (score, old, reference, 4 epochs); scripts/bench/align-torch.py counts the same. The phase's time is the
/// median over the timed phases, each on fresh rollouts.</remarks>
internal static class BenchAlignPpo
{
    public static int Run(ModelConfig config, string preset, int threads, int phases, int warmup, int rollouts, int prompt, int response, int minibatch)
    {
        if (minibatch <= 0 || minibatch > rollouts)
            throw new UserInputException($"bench align: --minibatch {minibatch} must be between 1 and the {rollouts} rollouts (--pairs)");
        int T = prompt + response;
        var policyModel = CausalLM.Create(config, 1);
        using var policy = new LoadedModel(policyModel, new IdTokenizer(config.VocabSize), source: "bench");
        using var full = TuningMethods.Create(policyModel, new TuningOptions { Method = TuningOptions.Full }, seed: 2);
        // The reward model: its own trunk, and a score head drawn N(0, 0.02²) (Hugging Face's initializer_range) so the
        // scores differ between rollouts, as a trained model's do.
        using var rewardTrunk = CausalLM.Create(config, 3);
        var reward = new RewardModel(rewardTrunk);
        new Lathe.Tensors.Philox(5).FillNormal(reward.Head.Value.AsSpan(), 0f, 0.02f);
        var options = new PpoOptions
        {
            PromptsPerPhase = rollouts, SamplesPerPrompt = 1, MaxNewTokens = response, MinibatchSize = minibatch, Phases = phases + warmup, Seed = 1,
        };
        var prompts = Enumerable.Range(0, rollouts).Select(i => new AlignmentPrompt([new ChatMessage("user", "q")], null, null)).ToList();
        using var scorer = new RewardModelScorer(reward, batch: rollouts);
        using var ppo = new PpoTrainer(policy, full, scorer, ChatTemplate.Named("chatml"), prompts, options, parallel: rollouts);

        var generation = TimeGeneration(policy, rollouts, prompt, response);

        var sets = new List<List<Rollout>>();
        var rng = new Lathe.Tensors.Philox(42);
        for (int s = 0; s < phases + warmup; s++) sets.Add(SyntheticRollouts(rollouts, prompt, response, config.VocabSize, rng));
        var scores = new float[rollouts];
        int phase = 0;
        double startupPeak = BenchSupport.PeakRssMb();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        BenchSupport.ResetPeakRss();
        double baseRss = BenchSupport.CurrentRssMb();
        // The first phase's KL is a check, not a timing: the policy starts as its reference, so it is exactly 0.
        PpoPhaseStats last = default;
        float firstKl = float.NaN;
        var (median, allocatedPerPhase) = BenchSupport.TimeSteps(() =>
        {
            var set = sets[phase++];
            ppo.Score(set, prompts).CopyTo(scores, 0);
            last = ppo.OptimisePhase(set, scores);
            if (float.IsNaN(firstKl)) firstKl = last.Kl;
        }, warmup, phases);
        double peak = BenchSupport.PeakRssMb();
        long trainable = 0;
        foreach (var p in ppo.Trainable) trainable += p.Value.Length;
        int tokensPerPhase = rollouts * T;
        double tokensPerSecond = tokensPerPhase / median;
        int optimiserSteps = options.PpoEpochs * ((rollouts + minibatch - 1) / minibatch);
        Console.Error.WriteLine($"bench align ppo {preset}: {policyModel.ParameterCount / 1e6:F2}M params ×3 (policy, reference, reward), {trainable:N0} trainable, " +
            $"{rollouts} rollouts of {prompt}+{response} tokens ({tokensPerPhase} tokens/phase), {options.PpoEpochs} epochs × minibatches of {minibatch} " +
            $"({optimiserSteps} updates), {threads} threads: median phase {median * 1e3:F1} ms over {phases}, {tokensPerSecond:F0} tok/s; generation " +
            $"{generation.TokensPerSecond:F0} tok/s (not in the phase); KL {firstKl:G3} at the first phase, {last.Kl:G3} at the last, peak RSS {peak:F0} MB while training (from {baseRss:F0} MB; " +
            $"{startupPeak:F0} MB before), {allocatedPerPhase} B allocated/phase");
        BenchSupport.PrintJson(("bench", "align"), ("method", "ppo"), ("preset", preset), ("threads", threads), ("batch", rollouts), ("rows", rollouts),
            ("prompt_tokens", prompt), ("response_tokens", response), ("tokens_per_step", tokensPerPhase),
            ("tokens_counted", "prompt and response tokens of every rollout, once per phase"), ("steps", phases), ("ppo_epochs", options.PpoEpochs),
            ("minibatch", minibatch), ("optimiser_steps_per_phase", optimiserSteps), ("params_m", policyModel.ParameterCount / 1e6),
            ("trainable_params", trainable), ("step_ms", median * 1e3), ("tokens_per_s", tokensPerSecond),
            ("generation_tokens_per_s", generation.TokensPerSecond), ("generation_ms", generation.Seconds * 1e3), ("first_kl", (double)firstKl),
            ("peak_rss_mb", peak), ("startup_peak_rss_mb", startupPeak), ("rss_before_training_mb", baseRss), ("alloc_bytes_per_step", allocatedPerPhase));
        return 0;
    }

    /// <summary>R rollouts of random ids, each prompt + response long and ended (as if the last token were the stop).</summary>
    static List<Rollout> SyntheticRollouts(int count, int prompt, int response, int vocab, Lathe.Tensors.Philox rng)
    {
        var trainable = new bool[prompt + response];
        trainable.AsSpan(prompt).Fill(true);
        var list = new List<Rollout>(count);
        for (int i = 0; i < count; i++)
        {
            var ids = new int[prompt + response];
            for (int t = 0; t < ids.Length; t++) ids[t] = rng.NextInt(vocab);
            list.Add(new Rollout(i, 0, new SftExample(ids, trainable), "", Ended: true));
        }
        return list;
    }

    /// <summary>Rollout generation as PPO does it, timed on its own: R random prompts decoding together through the
    /// batched engine, <paramref name="response"/> new tokens each (no stop token, so every response is full length),
    /// sampled at temperature 1 with no other reshaping, after 2 s of short untimed runs.</summary>
    static (double TokensPerSecond, double Seconds) TimeGeneration(LoadedModel policy, int rollouts, int prompt, int response)
    {
        var rng = new Lathe.Tensors.Philox(17);
        int vocab = policy.Model.Config.VocabSize;
        using var engine = new InferenceEngine(policy, new EngineOptions
        {
            Parallel = rollouts, QueueCapacity = Math.Max(256, 2 * rollouts), ContextLength = prompt + response, PrefixCaching = false,
        });
        double Generate(int tokens)
        {
            var requests = Enumerable.Range(0, rollouts).Select(i => new GenerationRequest
            {
                Prompt = Enumerable.Range(0, prompt).Select(_ => rng.NextInt(vocab)).ToArray(), MaxTokens = tokens, StopTokens = [],
                Sampling = new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0f, Seed = (ulong)i },
            }).ToList();
            long start = Stopwatch.GetTimestamp();
            var runs = requests.Select(r => engine.Submit(r).CollectAsync()).ToArray();
            Task.WhenAll(runs).GetAwaiter().GetResult();
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        // Warm-up for 2 s (at least one run), as bench eval does: tiered compilation of the decode path finishes first.
        var warm = Stopwatch.StartNew();
        do Generate(Math.Min(response, 8)); while (warm.Elapsed.TotalSeconds < 2);
        double seconds = Generate(response);
        return (rollouts * (double)response / seconds, seconds);
    }

    /// <summary>A tokenizer of bare ids for a model with random weights: the bench feeds ids, never text, so encoding is
    /// never needed and every id decodes to nothing.</summary>
    sealed class IdTokenizer(int vocab) : ITokenizer
    {
        public int VocabSize => vocab;
        public int EndOfTextId => -1;
        public IReadOnlyList<(string Text, int Id)> SpecialTokens => [];
        public void Encode(string text, List<int> ids) => ids.Add(0);
        public List<int> Encode(string text, bool allowSpecial = true) => [0];
        public List<Token> EncodeWithOffsets(string text, bool allowSpecial = true) => [];
        public byte[] DecodeBytes(IEnumerable<int> ids) => [];
        public string Decode(IEnumerable<int> ids) => "";
        public void Save(string path) => throw new NotSupportedException("bench: the synthetic tokenizer is not saved");
    }
}
