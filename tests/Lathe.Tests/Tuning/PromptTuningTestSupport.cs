using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Models;
using Lathe.Training;
using Lathe.Training.Objectives;
using Lathe.Tuning;

namespace Lathe.Tests.Tuning;

/// <summary>Next-token loss through a tuning method's <see cref="ITuningMethod.Embed"/> — what the SFT objective will
/// do: the logits of (B, VirtualTokens + T) rows, the virtual rows' targets ignored (−100, as PEFT pads its labels).</summary>
internal sealed class TuningMethodObjective(ITuningMethod method) : ITrainingObjective
{
    int[] _targets = [];

    public string Name => "causal-lm+" + method.Name;

    public double ForwardFlopsPerToken(LanguageModel model, int T) => ((CausalLM)model).ForwardFlopsPerToken(T + method.VirtualTokens);

    public Tensor Loss(LanguageModel model, in TrainingBatch batch) =>
        Ops.CrossEntropy(Logits(batch.Inputs, batch.B, batch.T), Targets(batch.Targets, batch.B, batch.T));

    /// <summary>Logits (B·(P+T), V) of the method's embeddings.</summary>
    public Tensor Logits(ReadOnlySpan<int> ids, int B, int T) =>
        ((CausalLM)method.Model).Logits(method.Embed(ids, B, T), B, method.VirtualTokens + T);

    /// <summary>(B, P+T) targets: −100 on the virtual rows, then each row's token targets.</summary>
    public ReadOnlySpan<int> Targets(ReadOnlySpan<int> targets, int B, int T)
    {
        int P = method.VirtualTokens;
        if (P == 0) return targets;
        if (_targets.Length != B * (P + T)) _targets = new int[B * (P + T)];
        for (int b = 0; b < B; b++)
        {
            _targets.AsSpan(b * (P + T), P).Fill(-100);
            targets.Slice(b * T, T).CopyTo(_targets.AsSpan(b * (P + T) + P, T));
        }
        return _targets;
    }
}

/// <summary>What the prefix, prompt and bottleneck tests share: the fixtures' tiny models, the PyTorch parity check,
/// frozen-base and exact-resume checks.</summary>
internal static class TuningTestSupport
{
    public static ModelConfig Gpt2 => new() { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 };
    public static ModelConfig Llama => new()
    {
        ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2, Intermediate = 48,
        NormEps = 1e-5f, TieEmbeddings = false,
    };
    public static ModelConfig For(string arch) => arch == "gpt2" ? Gpt2 : Llama;

    // As the whole-model parity tests (float32 vs a float64 reference through two layers): 2e-5 relative on logits and
    // loss, 1e-4 on gradients — relative to 1 + |expected|.
    public const float ForwardTolerance = 2e-5f, GradientTolerance = 1e-4f;

    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Tuning", "fixtures", name);

    /// <summary>The fixture's base model, every parameter frozen.</summary>
    public static CausalLM BaseModel(string caseName, string arch)
    {
        var model = CausalLM.Create(For(arch), seed: 1);
        Checkpoint.LoadWeights(Fixture(caseName + ".model.safetensors"), model);
        foreach (var p in model.Parameters) p.Value.RequiresGrad = false;
        return model;
    }

    /// <summary>Copies the fixture's method tensors into <paramref name="method"/>'s trainable tensors, by name; every
    /// tensor on either side must be matched.</summary>
    public static void SetMethodTensors(ITuningMethod method, string caseName)
    {
        using var file = SafetensorsFile.Open(Fixture(caseName + ".method.safetensors"));
        Assert.Equal(file.Entries.Count, method.Trainable.Count);
        foreach (var p in method.Trainable)
        {
            float[] data = file.ReadFloats(p.Name);
            Assert.Equal(p.Value.Length, data.Length);
            data.CopyTo(p.Value.AsSpan());
        }
    }

    /// <summary>A fixture case opened for <paramref name="method"/>: its tensors set from the case, and the expected
    /// file with its batch (B, T, inputs, targets).</summary>
    sealed class FixtureCase : IDisposable
    {
        public readonly SafetensorsFile Expected;
        public readonly int B, T;
        public readonly int[] Ids, Targets;

        public FixtureCase(string caseName, ITuningMethod method)
        {
            SetMethodTensors(method, caseName);
            Expected = SafetensorsFile.Open(Fixture(caseName + ".expected.safetensors"));
            B = int.Parse(Expected.Metadata["B"]);
            T = int.Parse(Expected.Metadata["T"]);
            Ids = Expected.ReadInts("inputs");
            Targets = Expected.ReadInts("targets");
        }

        public void Dispose() => Expected.Dispose();
    }

    /// <summary>Logits, loss and the gradient of every method tensor against the PyTorch fixture.</summary>
    public static void CheckParity(string caseName, CausalLM model, ITuningMethod method)
    {
        using var fixture = new FixtureCase(caseName, method);
        var (expected, B, T, ids, targets) = (fixture.Expected, fixture.B, fixture.T, fixture.Ids, fixture.Targets);
        var objective = new TuningMethodObjective(method);
        using var tape = new Tape();
        float[] logits;
        float loss;
        using (tape.Activate())
        {
            var l = objective.Logits(ids, B, T);
            logits = l.ToArray();
            var ce = Ops.CrossEntropy(l, objective.Targets(targets, B, T));
            loss = ce.Item();
            tape.Backward(ce);
        }
        ModelParityTests.AssertClose(caseName + " logits", expected.ReadFloats("logits"), logits, ForwardTolerance);
        ModelParityTests.AssertClose(caseName + " loss", expected.ReadFloats("loss"), [loss], ForwardTolerance);
        foreach (var p in method.Trainable)
            ModelParityTests.AssertClose(caseName + " grad." + p.Name, expected.ReadFloats("grad." + p.Name), p.Value.Grad!.ToArray(), GradientTolerance);
        Assert.Equal(expected.Entries.Count(e => e.Key.StartsWith("grad.", StringComparison.Ordinal)), method.Trainable.Count);
        foreach (var p in model.Parameters) Assert.Null(p.Value.Grad);   // the base is frozen: no gradient buffers at all
        foreach (var p in method.Trainable) p.Value.ReleaseGrad();
    }

    /// <summary>Central finite differences (step 1e-2) of the fixture's loss against the analytic gradient at a few
    /// entries of every method tensor — an oracle independent of PyTorch. The loss is float32, so the comparison allows
    /// 2e-3 + 2e-2·|numeric| (rounding of the loss / step, and the step's O(h²) truncation).</summary>
    public static void CheckFiniteDifferences(string caseName, ITuningMethod method, Func<string, bool>? which = null)
    {
        using var fixture = new FixtureCase(caseName, method);
        var (B, T, ids, targets) = (fixture.B, fixture.T, fixture.Ids, fixture.Targets);
        var objective = new TuningMethodObjective(method);
        using var tape = new Tape();
        using (tape.Activate())
        {
            var loss = Ops.CrossEntropy(objective.Logits(ids, B, T), objective.Targets(targets, B, T));
            tape.Backward(loss);
        }
        double Loss()
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                return Ops.CrossEntropy(objective.Logits(ids, B, T), objective.Targets(targets, B, T)).Item();
        }
        foreach (var p in method.Trainable)
        {
            if (which is not null && !which(p.Name)) { p.Value.ReleaseGrad(); continue; }
            CheckFiniteDifferences(p, p.Value.Grad!.ToArray(), Loss);
            p.Value.ReleaseGrad();
        }
    }

    /// <summary>Central differences (step 1e-2) of <paramref name="loss"/> at entries 0, n/3 and n−1 of
    /// <paramref name="p"/> against <paramref name="analytic"/>, within 2e-3 + 2e-2·|numeric|.</summary>
    public static void CheckFiniteDifferences(ModelParameter p, float[] analytic, Func<double> loss)
    {
        var data = p.Value.AsSpan();
        foreach (int i in new[] { 0, data.Length / 3, data.Length - 1 })
        {
            float saved = data[i];
            data[i] = saved + 1e-2f; double plus = loss();
            data[i] = saved - 1e-2f; double minus = loss();
            data[i] = saved;
            double numeric = (plus - minus) / 2e-2;
            Assert.True(Math.Abs(numeric - analytic[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"{p.Name}[{i}]: analytic {analytic[i]:G5}, numeric {numeric:G5}");
        }
    }

    /// <summary>A token corpus for the training tests.</summary>
    public static int[] Corpus(int n, int seed)
    {
        var rng = new Philox((ulong)seed);
        var tokens = new int[n];
        for (int i = 0; i < n; i++) tokens[i] = rng.NextInt(64);
        return tokens;
    }

    public static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 2, BlockSize = 8, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 7,
    };

    /// <summary>Trains a few steps through the method and checks that every base parameter's bytes are unchanged and
    /// every method tensor moved.</summary>
    public static void CheckFrozenBase(CausalLM model, ITuningMethod method)
    {
        var before = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
        var methodBefore = method.Trainable.Select(p => p.Value.ToArray()).ToArray();
        using (var trainer = new Trainer(model, Options(3), new TokenStreamSource(Corpus(400, 5), 8), null, null, null, new TuningMethodObjective(method), method.Trainable))
            for (int i = 0; i < 3; i++) Assert.True(float.IsFinite(trainer.TrainStep()));
        for (int i = 0; i < before.Length; i++)
        {
            Assert.True(before[i].AsSpan().SequenceEqual(model.Parameters[i].Value.ToArray()), $"{model.Parameters[i].Name} changed");
            Assert.Null(model.Parameters[i].Value.Grad);
        }
        for (int i = 0; i < methodBefore.Length; i++)
            Assert.False(methodBefore[i].AsSpan().SequenceEqual(method.Trainable[i].Value.ToArray()), $"{method.Trainable[i].Name} did not train");
    }

    /// <summary>Exact resume of a method's training: the Trainer's checkpoint (base weights, AdamW moments of the
    /// method's tensors by name, step, RNG, data position) plus the method's own folder (<see cref="ITuningMethod.Save"/>,
    /// written beside it at the same step). A run interrupted after n steps — with one more step lost — and resumed
    /// into a freshly attached method (other init seed) ends, after 2n steps, with the same method tensors bit for bit.</summary>
    /// <remarks>The Trainer's checkpoints hold the model only, so <see cref="ExactResume"/> (which compares model
    /// parameters) cannot see a method's tensors; this is its counterpart for tuning methods.</remarks>
    public static void CheckExactResume(Func<CausalLM> createModel, Func<CausalLM, ulong, ITuningMethod> attach, int n)
    {
        float[][] straight;
        using (var model = createModel())
        using (var method = attach(model, 3))
        using (var t = Train(model, method, null, n))
        {
            for (int i = 0; i < 2 * n; i++) t.TrainStep();
            straight = method.Trainable.Select(p => p.Value.ToArray()).ToArray();
        }
        string run = CheckpointTests.TempDir(), adapter = Path.Combine(run, "adapter");
        using (var model = createModel())
        using (var method = attach(model, 3))
        using (var t = Train(model, method, run, n))
        {
            for (int i = 0; i < n; i++) t.TrainStep();
            t.SaveCheckpoint();
            method.Save(adapter);
            t.TrainStep();   // lost by a kill
        }
        using (var model = createModel())
        using (var method = attach(model, 99))
        using (var t = Train(model, method, run, n))
        {
            t.Resume(Checkpoint.Resolve(run));
            method.Load(adapter);
            Assert.Equal(n, t.Step);
            while (t.Step < 2 * n) t.TrainStep();
            for (int i = 0; i < straight.Length; i++)
                Assert.True(straight[i].AsSpan().SequenceEqual(method.Trainable[i].Value.ToArray()), $"{method.Trainable[i].Name} differs after resume");
        }
    }

    static Trainer Train(CausalLM model, ITuningMethod method, string? run, int n) =>
        new(model, Options(2 * n), new TokenStreamSource(Corpus(600, 9), 8), null, run, null, new TuningMethodObjective(method), method.Trainable);

    /// <summary>Logits (B·T', V) of <paramref name="ids"/> through the method, no gradient.</summary>
    public static float[] Logits(ITuningMethod method, int[] ids, int B, int T)
    {
        using var tape = new Tape();
        using (tape.Activate())
        using (Tape.NoGrad())
            return new TuningMethodObjective(method).Logits(ids, B, T).ToArray();
    }

    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs(a[i] - b[i]));
        return m;
    }
}
