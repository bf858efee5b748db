using Lathe.Formats;
using Lathe.Models;
using Lathe.Tests.Models;
using Lathe.Training;

namespace Lathe.Tests.Training;

/// <summary>The exact-resume check every architecture and objective reuses: a run interrupted after N steps (with one
/// more step done and lost, as a kill would lose it) and resumed from its checkpoint into a differently initialised
/// model ends, after 2N steps, with the same parameters bit for bit as the uninterrupted run, and its metrics.jsonl
/// holds each step once.</summary>
internal static class ExactResume
{
    /// <param name="create">A fresh model from an init seed.</param>
    /// <param name="source">A fresh batch source at its start (disposed after each run when disposable).</param>
    /// <param name="trainer">The trainer of a model over a source, writing checkpoints into the run folder (null: none).
    /// Its options must run 2·<paramref name="n"/> steps with no checkpoints of its own.</param>
    public static void Check(Func<ulong, LanguageModel> create, Func<IBatchSource> source, Func<LanguageModel, IBatchSource, string?, Trainer> trainer, int n)
    {
        Trainer Make(LanguageModel model, string? run, List<IDisposable> owned)
        {
            var s = source();
            if (s is IDisposable d) owned.Add(d);
            return trainer(model, s, run);
        }
        var sources = new List<IDisposable>();
        try { Run(create, (m, r) => Make(m, r, sources), n); }
        finally { foreach (var d in sources) d.Dispose(); }
    }

    static void Run(Func<ulong, LanguageModel> create, Func<LanguageModel, string?, Trainer> trainer, int n)
    {
        float[][] straight, straightTrained;
        using (var model = create(3))
        using (var t = trainer(model, null))
        {
            Assert.Equal(2 * n, t.Options.Steps);
            for (int i = 0; i < 2 * n; i++) t.TrainStep();
            straight = model.Parameters.Select(p => p.Value.ToArray()).ToArray();
            straightTrained = t.Trainable.Select(p => p.Value.ToArray()).ToArray();   // an adapter's parameters are not the model's
        }
        string run = CheckpointTests.TempDir();
        using (var model = create(3))
        using (var t = trainer(model, run))
        {
            for (int i = 0; i < n; i++) t.TrainStep();
            t.SaveCheckpoint();
            t.TrainStep();   // work after the checkpoint that a kill would lose
        }
        using (var model = create(99))   // a different init: everything must come from the checkpoint
        using (var t = trainer(model, run))
        {
            t.Resume(Checkpoint.ResolveState(run));
            Assert.Equal(n, t.Step);
            while (t.Step < 2 * n) t.TrainStep();
            t.SaveCheckpoint();
            var steps = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"))
                .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("step").GetInt32());
            Assert.Equal(Enumerable.Range(1, 2 * n), steps);   // rows up to the checkpoint kept, the lost step's row recomputed once
            for (int i = 0; i < straight.Length; i++)
                Assert.True(straight[i].AsSpan().SequenceEqual(model.Parameters[i].Value.ToArray()), $"{model.Parameters[i].Name} differs after resume");
            for (int i = 0; i < straightTrained.Length; i++)
                Assert.True(straightTrained[i].AsSpan().SequenceEqual(t.Trainable[i].Value.ToArray()), $"trained {t.Trainable[i].Name} differs after resume");
        }
    }
}
