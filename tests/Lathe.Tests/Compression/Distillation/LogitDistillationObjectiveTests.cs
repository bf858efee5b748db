using Lathe.Compression.Distillation;
using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;
using Lathe.Training.Objectives;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>The objective's plumbing: a teacher of another depth and width run on the same inputs, the loss equal to
/// the formula evaluated (in double, here) on the two models' logits, α = 0 identical to the causal-LM objective, the
/// teacher untouched by training, and validation scored on the student alone.</summary>
public class LogitDistillationObjectiveTests
{
    internal static ModelConfig Teacher => new() { ModelType = "gpt2", VocabSize = 64, MaxPositions = 16, Embd = 48, Layers = 3, Heads = 3, KvHeads = 3, Intermediate = 96 };
    internal static ModelConfig Student => new() { ModelType = "llama", VocabSize = 64, MaxPositions = 16, Embd = 32, Layers = 1, Heads = 4, KvHeads = 2, Intermediate = 64 };

    internal static int[] Corpus(int n, ulong seed)
    {
        var rng = new Philox(seed);
        var t = new int[n];
        for (int i = 0; i < n; i++) t[i] = rng.NextInt(8) == 0 ? rng.NextInt(64) : (i * 7 + i / 5) % 23;
        return t;
    }

    static (float Loss, Dictionary<string, float[]> Grads) LossAndGradients(CausalLM student, ITrainingObjective objective, int[] ids, int B, int T, float[] weights)
    {
        foreach (var p in student.Parameters) { p.Value.RequiresGrad = true; p.Value.ZeroGrad(); }
        using var tape = new Tape();
        float value;
        using (tape.Activate())
        {
            var loss = objective.Loss(student, new TrainingBatch(ids.AsSpan(0, B * T), ids.AsSpan(1, B * T), B, T, 1, weights));
            value = loss.Item();
            tape.Backward(loss);
        }
        return (value, student.Parameters.ToDictionary(p => p.Name, p => p.Value.Grad!.ToArray()));
    }

    [Fact]
    public void Loss_is_the_distillation_formula_on_the_two_models_logits()
    {
        using var teacher = CausalLM.Create(Teacher, 11);
        using var student = CausalLM.Create(Student, 12);
        int B = 2, T = 16, V = 64;
        var ids = Corpus(B * T + 1, 3);
        var weights = Enumerable.Range(0, B * T).Select(i => i % 5 == 0 ? 0f : 1f + i % 3).ToArray();
        const float alpha = 0.7f, temperature = 2.5f;
        using var objective = new LogitDistillationObjective(teacher, alpha, temperature);
        float loss;
        using (var tape = new Tape())
        using (tape.Activate())
            loss = objective.Loss(student, new TrainingBatch(ids.AsSpan(0, B * T), ids.AsSpan(1, B * T), B, T, 1, weights)).Item();
        float[] s, t;
        using (Tape.NoGrad())
        {
            s = student.Logits(ids.AsSpan(0, B * T), B, T).ToArray();
            t = teacher.Logits(ids.AsSpan(0, B * T), B, T).ToArray();
        }
        double total = 0, weightSum = 0;
        for (int r = 0; r < B * T; r++)
        {
            double[] ls = LogSoftmax(s, r * V, V, temperature), lt = LogSoftmax(t, r * V, V, temperature), l1 = LogSoftmax(s, r * V, V, 1);
            double kl = 0;
            for (int j = 0; j < V; j++) kl += Math.Exp(lt[j]) * (lt[j] - ls[j]);
            double ce = -l1[ids[r + 1]];
            total += weights[r] * (alpha * temperature * temperature * kl + (1 - alpha) * ce);
            weightSum += weights[r];
        }
        double expected = total / weightSum;
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Abs(expected), $"{loss} vs {expected}");
    }

    static double[] LogSoftmax(float[] x, int offset, int n, double T)
    {
        double max = double.NegativeInfinity, sum = 0;
        for (int j = 0; j < n; j++) max = Math.Max(max, x[offset + j] / T);
        for (int j = 0; j < n; j++) sum += Math.Exp(x[offset + j] / T - max);
        return Enumerable.Range(0, n).Select(j => x[offset + j] / T - max - Math.Log(sum)).ToArray();
    }

    [Fact]
    public void Alpha_zero_is_the_causal_lm_objective_bit_for_bit()
    {
        using var teacher = CausalLM.Create(Teacher, 11);
        using var student = CausalLM.Create(Student, 12);
        var ids = Corpus(33, 3);
        var weights = Enumerable.Range(0, 32).Select(i => i % 4 == 0 ? 0f : 1f).ToArray();
        using var objective = new LogitDistillationObjective(teacher, 0f, 2f);
        var (kd, kdGrads) = LossAndGradients(student, objective, ids, 2, 16, weights);
        var (ce, ceGrads) = LossAndGradients(student, new CausalLmObjective(), ids, 2, 16, weights);
        Assert.Equal(ce, kd);
        foreach (var (name, g) in ceGrads) Assert.Equal(g, kdGrads[name]);
    }

    [Fact]
    public void Training_moves_the_student_toward_the_teacher_and_leaves_the_teacher_alone()
    {
        using var teacher = CausalLM.Create(Teacher, 11);
        using var student = CausalLM.Create(Student, 12);
        var before = teacher.Parameters.ToDictionary(p => p.Name, p => p.Value.ToArray());
        var corpus = Corpus(3000, 5);
        var validation = Corpus(400, 6);
        using var objective = new LogitDistillationObjective(teacher, 1f, 2f);
        var options = new TrainingOptions
        {
            Steps = 30, BatchSize = 4, BlockSize = 16, GradAccum = 1, LearningRate = 3e-3f, WarmupSteps = 3, EvalEvery = 0, CheckpointEvery = 0, Seed = 9,
        };
        using var trainer = new Trainer(student, options, new TokenStreamSource(corpus, 16), validation, null, null, objective);
        float first = trainer.TrainStep();
        for (int i = 1; i < options.Steps; i++) trainer.TrainStep();
        float last = trainer.TrainStep();
        Assert.True(last < 0.5f * first, $"the KL term went from {first} to {last}");
        foreach (var p in teacher.Parameters)
        {
            Assert.Equal(before[p.Name], p.Value.ToArray());
            Assert.Null(p.Value.Grad);
        }
        // Validation scores the student's own next-token loss, not the distillation loss.
        var (sum, count) = LossEvaluator.Evaluate(student, validation, options.BatchSize, options.BlockSize, options.EvalBatches, objective: new CausalLmObjective());
        Assert.Equal(sum / count, trainer.Evaluate(), 12);
    }
}
