using Lathe.Training.Objectives;
using Lathe.Evaluation;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;

namespace Lathe.Tests.Models;

/// <summary>MoE routing on hand-built cases (capacity, choice priority, the auxiliary losses against their formulas),
/// determinism, cached decoding, training and exact resume.</summary>
public class MoEBehaviourTests
{
    static ModelConfig Layer(int experts, int k, float capacity) => new()
    {
        ModelType = "gpt2", Embd = 4, Heads = 1, KvHeads = 1, Layers = 1, Intermediate = 8, VocabSize = 8, MaxPositions = 8,
        NumExperts = experts, ExpertsPerToken = k, CapacityFactor = capacity, RouterAuxLossCoef = 0.5f, RouterZLossCoef = 0.25f,
    };

    static (MixtureOfExperts Moe, List<ModelParameter> Parameters) Build(ModelConfig c, float[] router)
    {
        var p = new ParameterBuilder(7);
        var moe = MixtureOfExperts.Gpt2(p, c, "t", 0.5f, 0.5f);
        foreach (var q in p.Parameters) q.Value.RequiresGrad = false;
        router.CopyTo(p.Parameters.Single(q => q.Name == "t.gate.weight").Value.AsSpan());
        return (moe, p.Parameters);
    }

    static float[] Run(MixtureOfExperts moe, float[] x, int n, bool training, Tape tape)
    {
        tape.Reset();
        using var input = Tensor.FromArray(x, n, 4);
        input.RequiresGrad = training;   // a recording pass needs something to differentiate
        using (tape.Activate())
        {
            if (training) return moe.Forward(input).ToArray();
            using (Tape.NoGrad()) return moe.Forward(input).ToArray();
        }
    }

    static float[] OneHotRows(int n) { var x = new float[n * 4]; for (int i = 0; i < n; i++) x[i * 4 + i % 4] = 1; return x; }

    [Fact]
    public void Tokens_over_capacity_are_dropped_in_training_passes_only()
    {
        // Router (E=2, C=4): logits of a one-hot token i are column i. Tokens 0, 1, 2 prefer expert 0, token 3 expert 1.
        float[] router = [3, 2, 1, 0, /* expert 1 */ 0, 0, 0, 2];
        var (moe, ps) = Build(Layer(2, 1, 1.0f), router);   // capacity ⌈1.0 · 4 · 1 / 2⌉ = 2
        using var tape = new Tape();
        float[] x = OneHotRows(4);
        float[] trained = Run(moe, x, 4, training: true, tape);
        Assert.Equal([0, 0, 0, 1], moe.LastExperts.ToArray());
        Assert.Equal(1, moe.LastDropped);
        float[] all = Run(moe, x, 4, training: false, tape);
        Assert.Equal(0, moe.LastDropped);
        for (int c = 0; c < 4; c++)
        {
            Assert.Equal(0f, trained[2 * 4 + c]);                         // token 2: third in line for expert 0 → residual only
            Assert.NotEqual(0f, all[2 * 4 + c]);
            foreach (int t in new[] { 0, 1, 3 }) Assert.Equal(all[t * 4 + c], trained[t * 4 + c]);
        }
        foreach (var p in ps) p.Value.Dispose();
    }

    [Fact]
    public void First_choices_are_served_before_second_choices()
    {
        // Token 0 ranks expert 1 then 0; token 1 ranks expert 0 then 1. Capacity ⌈0.5 · 2 · 2 / 2⌉ = 1 per expert.
        // By choice priority both first choices fit and both second choices drop; by token order alone token 0
        // would take both experts and token 1 would get nothing.
        float[] router = [1, 2, 0, 0, /* expert 1 */ 2, 1, 0, 0];
        var (moe, ps) = Build(Layer(2, 2, 0.5f), router);
        using var tape = new Tape();
        float[] trained = Run(moe, OneHotRows(2), 2, training: true, tape);
        Assert.Equal([1, 0, 0, 1], moe.LastExperts.ToArray());
        Assert.Equal(2, moe.LastDropped);
        for (int t = 0; t < 2; t++) Assert.Contains(trained.AsSpan(t * 4, 4).ToArray(), v => v != 0f);
        foreach (var p in ps) p.Value.Dispose();
    }

    [Fact]
    public void An_idle_expert_gets_an_exactly_zero_gradient_after_a_busy_step()
    {
        float[] busy = [3, 2, 1, 0, /* expert 1 */ 0, 0, 0, 2], idle = [1, 1, 1, 1, /* expert 1 */ 0, 0, 0, 0];
        var (moe, ps) = Build(Layer(2, 1, 0f), busy);
        foreach (var p in ps) p.Value.RequiresGrad = true;
        var router = ps.Single(p => p.Name == "t.gate.weight").Value;
        using var tape = new Tape();
        float[] x = OneHotRows(4);
        foreach (var weights in new[] { busy, idle })
        {
            weights.CopyTo(router.AsSpan());
            foreach (var p in ps) p.Value.ZeroGrad();
            tape.Reset();
            using var input = Tensor.FromArray(x, 4, 4);
            using (tape.Activate()) tape.Backward(Ops.SumAll(Ops.Mul(moe.Forward(input), moe.Forward(input))));
            bool expert1Used = moe.LastExperts.ToArray().Contains(1);
            Assert.Equal(weights == busy, expert1Used);
            foreach (var p in ps.Where(p => p.Name.StartsWith("t.experts.1.", StringComparison.Ordinal)))
                Assert.Equal(!expert1Used, p.Value.Grad!.ToArray().All(v => v == 0f));
        }
        foreach (var p in ps) p.Value.Dispose();
    }

    [Fact]
    public void A_uniform_router_gives_balance_loss_1_and_z_loss_ln_E_squared()
    {
        var (moe, ps) = Build(Layer(4, 1, 0f), new float[16]);   // all logits 0: ties go to expert 0
        using var tape = new Tape();
        Run(moe, OneHotRows(4), 4, training: true, tape);
        Assert.Equal([0, 0, 0, 0], moe.LastExperts.ToArray());
        // f = (1, 0, 0, 0), P_e = 1/4: E · Σ f·P = 4 · 1/4 = 1; logsumexp = ln 4.
        Assert.Equal(1.0, moe.LastBalanceLoss, 6);
        Assert.Equal(Math.Log(4) * Math.Log(4), moe.LastZLoss, 6);
        Assert.Equal(0.5 * 1.0 + 0.25 * Math.Log(4) * Math.Log(4), moe.LastAuxLoss!.Item(), 5);
        foreach (var p in ps) p.Value.Dispose();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Auxiliary_losses_equal_their_formulas_on_a_random_router(int k)
    {
        var rng = new Random(3);
        float[] router = new float[4 * 4], x = new float[6 * 4];
        for (int i = 0; i < router.Length; i++) router[i] = (float)(rng.NextDouble() * 4 - 2);
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        var (moe, ps) = Build(Layer(4, k, 0f), router);
        using var tape = new Tape();
        Run(moe, x, 6, training: true, tape);
        // The formulas, in double, from the logits: f_e counts every one of the k choices, P_e is the mean probability.
        const int N = 6, E = 4;
        double[] f = new double[E], P = new double[E];
        double z = 0;
        for (int n = 0; n < N; n++)
        {
            var logits = new double[E];
            for (int e = 0; e < E; e++) for (int c = 0; c < 4; c++) logits[e] += (double)router[e * 4 + c] * x[n * 4 + c];
            double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max)), lse = max + Math.Log(sum);
            for (int e = 0; e < E; e++) P[e] += Math.Exp(logits[e] - lse) / N;
            foreach (int e in Enumerable.Range(0, E).OrderByDescending(e => logits[e]).Take(k)) f[e] += 1.0 / N;
            z += lse * lse / N;
        }
        double balance = E * Enumerable.Range(0, E).Sum(e => f[e] * P[e]);
        Assert.Equal(balance, moe.LastBalanceLoss, 5);
        Assert.Equal(z, moe.LastZLoss, 5);
        Assert.Equal(0.5 * balance + 0.25 * z, moe.LastAuxLoss!.Item(), 4);
        foreach (var p in ps) p.Value.Dispose();
    }

    [Fact]
    public void Auxiliary_losses_are_left_out_of_evaluation()
    {
        var config = MoEParityTests.LlamaMoe;
        using var model = CausalLM.Create(config, 3);
        int[] ids = Enumerable.Range(0, 33).Select(i => (i * 7) % 97).ToArray();
        using var tape = new Tape();
        float ce, training;
        using (tape.Activate())
        using (Tape.NoGrad())
            ce = new CausalLmObjective().Loss(model, new TrainingBatch(ids.AsSpan(0, 32), ids.AsSpan(1, 32), 2, 16, 0)).Item();
        tape.Reset();
        using (tape.Activate())
            training = new CausalLmObjective().Loss(model, new TrainingBatch(ids.AsSpan(0, 32), ids.AsSpan(1, 32), 2, 16, 0)).Item();
        double aux = 0;
        for (int l = 0; l < config.Layers; l++)
        {
            var moe = MoEParityTests.MoeLayer(model, l)!;
            aux += config.RouterAuxLossCoef * moe.LastBalanceLoss + config.RouterZLossCoef * moe.LastZLoss;
        }
        Assert.True(aux > 0);
        Assert.Equal(ce + aux, training, 4);
    }

    public static TheoryData<string> Variants => new() { "gpt2-moe", "llama-moe", "alibi", "rope", "sinusoidal" };

    internal static ModelConfig Variant(string name) => name switch
    {
        "gpt2-moe" => MoEParityTests.Gpt2Moe,
        "llama-moe" => MoEParityTests.LlamaMoe,
        _ => new ModelConfig { ModelType = "gpt2", VocabSize = 97, MaxPositions = 32, Embd = 48, Layers = 2, Heads = 6, KvHeads = 6, Intermediate = 96, PositionEmbeddingType = name },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void Cached_decoding_matches_full_recompute(string variant)
    {
        var config = Variant(variant);
        using var model = CausalLM.Create(config, 11);
        var rng = new Philox(5);
        int[] ids = Enumerable.Range(0, 13).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
        int V = config.VocabSize;
        using var tape = new Tape();
        float[] full;
        using (tape.Activate())
        using (Tape.NoGrad())
            full = model.Logits(ids, 1, ids.Length).ToArray();
        using var cache = new Lathe.Tests.Inference.OneSequenceCache(config);
        int position = 0;
        foreach (int step in new[] { 5, 1, 1, 3, 1, 1, 1 })
        {
            tape.Reset();
            float[] part;
            using (tape.Activate())
            using (Tape.NoGrad())
                part = cache.Logits(model, ids.AsSpan(position, step)).ToArray();
            ModelParityTests.AssertClose($"{variant} positions {position}..{position + step - 1}", full.AsSpan(position * V, step * V).ToArray(), part, 1e-5f);
            position += step;
        }
    }

    [Fact]
    public void Same_seed_same_bits_and_thread_count_changes_nothing() => MoEThreadTests.RunTwice(1, 1);

    // A tiny corpus as in TrainerTests: a repeating pattern with noise.
    static int[] Corpus(int n, ulong seed)
    {
        var rng = new Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.NextInt(8) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23;
        return t;
    }

    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 4, BlockSize = 16, GradAccum = 2, LearningRate = 3e-3f, WarmupSteps = 5, EvalEvery = 0, CheckpointEvery = 0, Seed = 5,
    };

    static ModelConfig TinyMoe(string type) => type == "gpt2"
        ? new ModelConfig { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64,
            NumExperts = 4, ExpertsPerToken = 1, MoeEvery = 1, CapacityFactor = 1.0f }
        : new ModelConfig { ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
            TieEmbeddings = false, NumExperts = 4, ExpertsPerToken = 2 };

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Two_hundred_steps_reduce_validation_loss(string type)
    {
        int[] corpus = Corpus(6000, 2), validation = Corpus(1000, 3);
        using var model = CausalLM.Create(TinyMoe(type), 4);
        using var trainer = new Trainer(model, Options(200) with { GradAccum = 1 }, new TokenStreamSource(corpus, 16), validation, null, null);
        double before = trainer.Evaluate();
        trainer.Run(CancellationToken.None);
        double after = trainer.Evaluate();
        Assert.True(before > 3.9, $"initial loss {before} should be near ln 64 = 4.16");
        Assert.True(after < 0.6 * before, $"validation loss went {before:F3} → {after:F3}");
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Interrupted_and_resumed_run_matches_the_uninterrupted_run_bit_for_bit(string type)
    {
        int[] corpus = Corpus(4000, 1);
        Lathe.Tests.Training.ExactResume.Check(seed => CausalLM.Create(TinyMoe(type), seed),
            () => new TokenStreamSource(corpus, 16), (model, source, run) => new Trainer(model, Options(8), source, null, run, null), n: 4);
    }

    [Theory]
    [InlineData("""{"model_type":"gpt2","num_local_experts":4,"num_experts_per_tok":5}""", "config: num_experts_per_tok: 5 must be in 1..num_local_experts (4)")]
    [InlineData("""{"model_type":"gpt2","num_local_experts":4,"moe_every":13}""", "config: moe_every: 13 must be in 1..12 (the number of layers)")]
    [InlineData("""{"model_type":"gpt2","num_local_experts":4,"capacity_factor":-1}""", "config: capacity_factor: -1 must be ≥ 0 (0 = unlimited)")]
    [InlineData("""{"model_type":"gpt2","num_local_experts":-2}""", "config: num_local_experts: -2 must be ≥ 0")]
    [InlineData("""{"model_type":"gpt2","position_embedding_type":"relative"}""", "config: position_embedding_type: 'relative' is not one of learned, sinusoidal, alibi, rope")]
    [InlineData("""{"model_type":"llama","position_embedding_type":"alibi"}""", "config: position_embedding_type: llama always uses rope")]
    [InlineData("""{"model_type":"gpt2","num_local_experts":"many"}""", "config: num_local_experts: '\"many\"' is not an integer")]
    public void Bad_MoE_and_position_fields_fail_naming_the_field(string json, string message) =>
        Assert.Equal(message, Assert.Throws<InvalidDataException>(() => ModelConfig.Parse(json)).Message);

    [Theory]
    [InlineData("gpt2-moe-tiny")]
    [InlineData("llama-moe-tiny")]
    public void MoE_presets_round_trip_and_save_and_load(string preset)
    {
        var c = ModelConfig.FromPresetOrFile(preset);
        Assert.True(c.NumExperts > 0);
        Assert.Equal(c, ModelConfig.Parse(c.ToJson()));
        var alibi = ModelConfig.FromPresetOrFile("gpt2-tiny").With("position_embedding_type", "alibi").With("num_local_experts", "2");
        Assert.Equal(alibi, ModelConfig.Parse(alibi.ToJson()));
        using var model = CausalLM.Create(c.With(c.ModelType == "llama" ? "num_hidden_layers" : "n_layer", "2"), 1);
        Assert.Contains(c.ModelType == "llama" ? "model.layers.1.block_sparse_moe.experts.3.w2.weight" : "transformer.h.1.mlp.experts.3.c_proj.weight",
            model.Parameters.Select(p => p.Name));
        Assert.DoesNotContain(c.ModelType == "llama" ? "model.layers.1.mlp.down_proj.weight" : "transformer.h.1.mlp.c_proj.weight", model.Parameters.Select(p => p.Name));
    }
}

/// <summary>Runs alone: it swaps the process-wide compute pool between 1 and 2 threads.</summary>
[CollectionDefinition(nameof(MoEThreadTests), DisableParallelization = true)]
public class MoEThreadCollection { }

[Collection(nameof(MoEThreadTests))]
public class MoEThreadTests
{
    /// <summary>Loss and every gradient of a gpt2-moe and a llama-moe training step, run with <paramref name="threadsA"/>
    /// and then <paramref name="threadsB"/> compute threads: identical bits.</summary>
    internal static void RunTwice(int threadsA, int threadsB)
    {
        foreach (var config in new[] { MoEParityTests.Gpt2Moe with { MaxPositions = 64 }, MoEParityTests.LlamaMoe with { MaxPositions = 64 } })
        {
            float[][] a = Step(config, threadsA), b = Step(config, threadsB);
            for (int i = 0; i < a.Length; i++) Assert.True(a[i].AsSpan().SequenceEqual(b[i]), $"{config.ModelType}: output {i} differs");
        }
    }

    static float[][] Step(ModelConfig config, int threads)
    {
        if (threads > 1) Lathe.Tensors.Threading.ComputePool.SetSharedThreads(threads);
        try
        {
            using var model = CausalLM.Create(config, 21);
            var rng = new Philox(9);
            int[] ids = Enumerable.Range(0, 4 * 64 + 1).Select(_ => rng.NextInt(config.VocabSize)).ToArray();
            using var tape = new Tape();
            float loss;
            using (tape.Activate())
            {
                var l = new CausalLmObjective().Loss(model, new TrainingBatch(ids.AsSpan(0, 4 * 64), ids.AsSpan(1, 4 * 64), 4, 64, 0));
                loss = l.Item();
                tape.Backward(l);
            }
            return [[loss], .. model.Parameters.Select(p => p.Value.Grad?.ToArray() ?? [])];
        }
        finally { if (threads > 1) Lathe.Tensors.Threading.ComputePool.SetSharedThreads(1); }
    }

    [Fact]
    public void One_and_two_threads_give_identical_bits()
    {
        Lathe.Tensors.Threading.ComputePool.SetSharedThreads(1);
        try { RunTwice(1, 2); }
        finally
        {
            // Back to the shared pool's default size (LATHE_THREADS, else the core count).
            int threads = int.TryParse(Environment.GetEnvironmentVariable("LATHE_THREADS"), out int t) && t > 0 ? t : Environment.ProcessorCount;
            Lathe.Tensors.Threading.ComputePool.SetSharedThreads(threads);
        }
    }
}
