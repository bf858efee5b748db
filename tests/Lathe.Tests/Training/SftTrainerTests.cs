using Lathe.Data;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors.Autograd;
using Lathe.Tests.Data;
using Lathe.Tests.Tuning;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Training;

/// <summary>The trainer's example path: weights reach the objective, a fine-tuning run resumes bit for bit (plain
/// model, and an adapter-style method whose checkpoint is its own files), and validation covers every trainable token.</summary>
public class SftTrainerTests
{
    static ModelConfig Tiny => AdapterSlotTests.Gpt2;   // gpt2, vocab 64, context 16

    static TrainingOptions Options(int steps) => new()
    {
        Steps = steps, BatchSize = 3, BlockSize = 12, GradAccum = 2, LearningRate = 3e-3f, WarmupSteps = 2, EvalEvery = 0,
        CheckpointEvery = 0, Seed = 5,
    };

    static readonly List<SftExample> Examples = SftBatchSourceTests.Examples(11, 10, 21);

    [Fact]
    public void A_fine_tuning_run_of_the_whole_model_resumes_bit_for_bit()
    {
        ExactResume.Check(seed => CausalLM.Create(Tiny, seed),
            () => new SftBatchSource(Examples, SequenceMode.Padded, seed: 3),
            (model, source, run) => new Trainer(model, Options(8), source, null, run, null, new SftObjective()), n: 4);
    }

    [Fact]
    public void A_run_with_a_tuning_method_saves_and_resumes_only_the_method_bit_for_bit()
    {
        int made = 0;
        var methods = new List<OffsetEmbeddings>();
        try
        {
            // The base is the same model in every run (a method's checkpoint does not hold it); the method starts from a
            // different init in the resumed run, so everything it ends with must come from its checkpoint files.
            ExactResume.Check(_ => CausalLM.Create(Tiny, 3),
                () => new SftBatchSource(Examples, SequenceMode.Padded, seed: 3),
                (model, source, run) =>
                {
                    var method = new OffsetEmbeddings((CausalLM)model, 12, 2, made++ < 2 ? 5UL : 77UL);
                    methods.Add(method);
                    var trainer = new Trainer(model, Options(8), source, null, run, null, new SftObjective(method), method: method);
                    if (run is not null && made == 2)
                        Assert.Same(method.Trainable, trainer.Trainable);   // the method's set by default
                    return trainer;
                }, n: 4);
        }
        finally { foreach (var m in methods) m.Dispose(); }
    }

    [Fact]
    public void A_method_checkpoint_holds_the_method_files_not_the_model()
    {
        using var dir = new TempDir();
        using var model = CausalLM.Create(Tiny, 3);
        using var method = new OffsetEmbeddings(model, 12, 0, 5);
        float[] before = model.Parameters[0].Value.ToArray();
        using (var trainer = new Trainer(model, Options(2), new SftBatchSource(Examples, SequenceMode.Padded, seed: 3), null, dir.Path, null,
                   new SftObjective(method), method: method))
        {
            trainer.TrainStep();
            trainer.SaveCheckpoint();
        }
        string ckpt = Checkpoint.ResolveState(dir.Path);
        Assert.True(File.Exists(Path.Combine(ckpt, OffsetEmbeddings.File)));
        Assert.False(File.Exists(Path.Combine(ckpt, Checkpoint.ModelFile)));
        Assert.True(File.Exists(Path.Combine(ckpt, Checkpoint.OptimizerFile)));
        Assert.True(before.AsSpan().SequenceEqual(model.Parameters[0].Value.ToArray()));   // the frozen base is untouched
        Assert.Null(model.Parameters[0].Value.Grad);
    }

    [Fact]
    public void Validation_examples_are_scored_whole_as_the_mean_over_trainable_tokens()
    {
        using var model = CausalLM.Create(Tiny, 3);
        var objective = new SftObjective();
        // The reference: each example alone (one row), its mean loss weighted by its trainable targets.
        double sum = 0, weight = 0;
        using (var tape = new Tape())
            foreach (var e in Examples)
            {
                int T = e.Ids.Length - 1;
                var source = new SftBatchSource([e], SequenceMode.Padded, seed: 0, shuffle: false);
                var (i, t, w) = (new int[T], new int[T], new float[T]);
                source.Next(i, t, w, 1, T);
                tape.Reset();
                using (tape.Activate())
                using (Tape.NoGrad())
                    sum += objective.Loss(model, new TrainingBatch(i, t, 1, T, 0, w)).Item() * (double)w.Sum();
                weight += w.Sum();
            }
        foreach (int batch in new[] { 2, 5 })
        {
            var validation = new SftBatchSource(Examples, SequenceMode.Padded, seed: 0, shuffle: false, repeat: false);
            using var trainer = new Trainer(model, Options(1) with { BatchSize = batch }, new SftBatchSource(Examples, SequenceMode.Padded, seed: 3),
                null, null, null, objective, validationExamples: validation);
            double got = trainer.Evaluate();
            Assert.True(Math.Abs(got - sum / weight) <= 1e-5 * (sum / weight), $"B = {batch}: {got} vs {sum / weight}");
            Assert.Equal(got, trainer.Evaluate());   // deterministic, the source's position restored
        }
    }
}
