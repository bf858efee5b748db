using System.Text.Json;
using Lathe.Compression.Distillation;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>Attention-map matching: the head-averaged KL term and its q/k gradients against PyTorch
/// (make_attention_fixtures.py → fixtures/attention_reference.json; head counts, head sizes and kv grouping differ
/// between student and teacher), finite differences on q and k, and the capture hook inside the objective (gpt2 and
/// llama layers captured, logits unchanged, the student's q/k projections trained).</summary>
public class AttentionMapMatchingTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Compression", "Distillation", "fixtures", "attention_reference.json"))).RootElement;

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    static ModelConfig Layers(int layers) => LogitDistillationObjectiveTests.Student with { Layers = layers };

    static Tensor Leaf(float[] data, bool grad, params int[] shape)
    {
        var t = Tensor.FromArray(data, shape);
        t.RequiresGrad = grad;
        return t;
    }

    [Theory]
    [InlineData("heads_differ")]
    [InlineData("grouped_query")]
    public void Term_and_gradients_match_PyTorch(string name)
    {
        var c = Reference.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int B = c.GetProperty("b").GetInt32(), T = c.GetProperty("t").GetInt32();
        int[] sh = c.GetProperty("student_heads").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] th = c.GetProperty("teacher_heads").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int[] map = c.GetProperty("layer_map").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        using var matching = new AttentionMapMatching(Layers(2), Layers(3), (float)c.GetProperty("weight").GetDouble(), map);
        var sq = c.GetProperty("student_q").EnumerateArray().Select(a => Leaf(Floats(a), true, B, T, sh[0] * sh[2])).ToArray();
        var sk = c.GetProperty("student_k").EnumerateArray().Select(a => Leaf(Floats(a), true, B, T, sh[1] * sh[2])).ToArray();
        var tq = c.GetProperty("teacher_q").EnumerateArray().Select(a => Leaf(Floats(a), false, B, T, th[0] * th[2])).ToArray();
        var tk = c.GetProperty("teacher_k").EnumerateArray().Select(a => Leaf(Floats(a), false, B, T, th[1] * th[2])).ToArray();
        var students = sq.Select((q, i) => new AttentionCapture(q, sk[i], sh[0], sh[1], sh[2])).ToArray();
        var teachers = tq.Select((q, i) => new AttentionCapture(q, tk[i], th[0], th[1], th[2])).ToArray();
        using var tape = new Tape();
        float loss;
        using (tape.Activate())
        {
            var term = matching.Term(students, teachers);
            loss = term.Item();
            tape.Backward(term);
        }
        double expected = c.GetProperty("loss").GetDouble();
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * Math.Abs(expected), $"{loss} vs {expected}");
        var gq = c.GetProperty("grad_q").EnumerateArray().Select(Floats).ToArray();
        var gk = c.GetProperty("grad_k").EnumerateArray().Select(Floats).ToArray();
        for (int l = 0; l < 2; l++)
        {
            Close($"q of layer {l}", gq[l], sq[l].Grad!.ToArray());
            Close($"k of layer {l}", gk[l], sk[l].Grad!.ToArray());
        }
        foreach (var t in sq.Concat(sk).Concat(tq).Concat(tk)) t.Dispose();
    }

    static void Close(string what, float[] expected, float[] actual)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"{what}[{i}]: {actual[i]:R} vs {expected[i]:R}");
    }

    [Fact]
    public void Query_and_key_gradients_match_finite_differences()
    {
        const int B = 2, T = 4;
        using var matching = new AttentionMapMatching(Layers(1), Layers(2), 1.5f);
        Assert.Equal([1], matching.LayerMap);
        var rng = new Random(7);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var q = Leaf(Random(B * T * 4 * 3), true, B, T, 4 * 3);   // 4 heads of 3 reading 2 kv heads
        using var k = Leaf(Random(B * T * 2 * 3), true, B, T, 2 * 3);
        var teachers = Enumerable.Range(0, 2).Select(_ => new AttentionCapture(Leaf(Random(B * T * 10), false, B, T, 10), Leaf(Random(B * T * 10), false, B, T, 10), 2, 2, 5)).ToArray();
        AttentionCapture[] student = [new(q, k, 4, 2, 3)];
        double Value()
        {
            using var tape = new Tape();
            using (tape.Activate()) return matching.Term(student, teachers).Item();
        }
        using (var tape = new Tape())
        using (tape.Activate()) tape.Backward(matching.Term(student, teachers));
        foreach (var (x, what) in new[] { (q, "q"), (k, "k") })
        {
            var analytic = x.Grad!.ToArray();
            double scale = analytic.Max(Math.Abs);
            Assert.True(scale > 0, $"{what}: no gradient");
            var values = x.AsSpan();
            const float h = 1e-2f;
            for (int i = 0; i < values.Length; i++)
            {
                float saved = values[i];
                values[i] = saved + h; double up = Value();
                values[i] = saved - h; double down = Value();
                values[i] = saved;
                Assert.True(Math.Abs((up - down) / (2 * h) - analytic[i]) <= 2e-3 * scale, $"{what}[{i}]: {analytic[i]} vs {(up - down) / (2 * h)}");
            }
        }
        foreach (var t in teachers) { t.Q.Dispose(); t.K.Dispose(); }
    }

    [Fact]
    public void A_student_matching_its_own_maps_scores_zero_and_bad_maps_are_refused()
    {
        var rng = new Random(3);
        using var q = Leaf(Enumerable.Range(0, 2 * 5 * 8).Select(_ => (float)rng.NextDouble()).ToArray(), false, 2, 5, 8);
        using var k = Leaf(Enumerable.Range(0, 2 * 5 * 8).Select(_ => (float)rng.NextDouble()).ToArray(), false, 2, 5, 8);
        using var matching = new AttentionMapMatching(Layers(1), Layers(1), 1f);
        AttentionCapture[] same = [new(q, k, 2, 2, 4)];
        using (Tape.NoGrad()) Assert.Equal(0f, matching.Term(same, same).Item(), 6);
        Assert.Contains("--layer-map", Assert.Throws<ArgumentException>(() => new AttentionMapMatching(Layers(2), Layers(2), 1f, [0, 2])).Message);
        Assert.Contains("--attention-weight", Assert.Throws<ArgumentException>(() => new AttentionMapMatching(Layers(1), Layers(1), -1f)).Message);
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void The_objective_captures_every_layer_and_trains_the_students_queries(string studentType)
    {
        using var teacher = CausalLM.Create(LogitDistillationObjectiveTests.Teacher, 11);
        var studentConfig = studentType == "llama" ? LogitDistillationObjectiveTests.Student with { Layers = 2 }
            : LogitDistillationObjectiveTests.Teacher with { Embd = 32, Heads = 2, KvHeads = 2, Layers = 2, Intermediate = 64 };
        using var student = CausalLM.Create(studentConfig, 12);
        var ids = LogitDistillationObjectiveTests.Corpus(33, 3);
        float[] plain;
        using (Tape.NoGrad()) plain = student.Logits(ids.AsSpan(0, 32), 2, 16).ToArray();
        var captured = new List<AttentionCapture>();
        student.CapturedAttention = captured;
        using (Tape.NoGrad()) Assert.Equal(plain, student.Logits(ids.AsSpan(0, 32), 2, 16).ToArray());   // capturing changes nothing
        student.CapturedAttention = null;
        Assert.Equal(2, captured.Count);
        Assert.All(captured, a =>
        {
            Assert.Equal([2, 16, studentConfig.Heads * studentConfig.HeadDim], a.Q.Shape.ToArray());
            Assert.Equal([2, 16, studentConfig.KvHeads * studentConfig.HeadDim], a.K.Shape.ToArray());
        });

        using var matching = new AttentionMapMatching(student.Config, teacher.Config, 1f);
        using var objective = new LogitDistillationObjective(teacher, 0.5f, 2f, null, matching);
        var options = new TrainingOptions { Steps = 3, BatchSize = 2, BlockSize = 16, GradAccum = 1, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 9 };
        using var trainer = new Trainer(student, options, new TokenStreamSource(LogitDistillationObjectiveTests.Corpus(400, 5), 16), null, null, null, objective);
        trainer.TrainStep();
        var metric = Assert.Single(trainer.LastStepMetrics!, m => m.Key == "distill/attention");
        Assert.True(metric.Value > 0 && double.IsFinite(metric.Value), $"distill/attention {metric.Value}");
        Assert.Null(student.CapturedAttention);
        Assert.Null(teacher.CapturedAttention);

        // The term's gradient reaches the student's query projection through the captured views: with α = 0, the loss
        // with the term and without it differ in that gradient.
        var queries = student.Parameters.First(p => p.Name.Contains("c_attn") || p.Name.Contains("q_proj"));
        float[] QueryGradient(float weight)
        {
            using var m = new AttentionMapMatching(student.Config, teacher.Config, weight);
            using var o = new LogitDistillationObjective(teacher, 0f, 2f, null, m);
            queries.Value.RequiresGrad = true;
            queries.Value.ReleaseGrad();
            using var tape = new Tape();
            using (tape.Activate()) tape.Backward(o.Loss(student, new TrainingBatch(ids.AsSpan(0, 32).ToArray(), ids.AsSpan(1, 32).ToArray(), 2, 16, 0)));
            return queries.Value.Grad!.ToArray();
        }
        Assert.NotEqual(QueryGradient(0f), QueryGradient(1f));
    }
}
