using System.Text.Json;
using Lathe.Compression.Distillation;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;
using Lathe.Training;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>Hidden-state matching: DistilBERT's cosine term and TinyBERT's projected MSE against PyTorch
/// (make_distillation_fixtures.py → fixtures/hidden_reference.json), finite differences on the projection, the uniform
/// layer map, and the capture hook (every block's output, logits unchanged) inside the objective.</summary>
public class HiddenStateMatchingTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Compression", "Distillation", "fixtures", "hidden_reference.json"))).RootElement;

    static float[] Floats(JsonElement e) => e.EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();

    static ModelConfig Config(int width, int layers) => LogitDistillationObjectiveTests.Student with { Embd = width, Layers = layers };

    [Theory]
    [InlineData("cosine")]
    [InlineData("mse_projection")]
    public void Term_and_gradients_match_PyTorch(string name)
    {
        var c = Reference.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int n = c.GetProperty("n").GetInt32(), cs = c.GetProperty("cs").GetInt32(), ct = c.GetProperty("ct").GetInt32();
        var kind = c.GetProperty("kind").GetString() == "cosine" ? HiddenStateLoss.Cosine : HiddenStateLoss.Mse;
        using var matching = new HiddenStateMatching(Config(cs, 2), Config(ct, 2), kind, (float)c.GetProperty("weight").GetDouble());
        Assert.Equal([0, 1], matching.LayerMap);
        Assert.Equal(cs != ct, matching.Projection is not null);
        if (matching.Projection is { } p) Floats(c.GetProperty("projection")).CopyTo(p.Value.AsSpan());
        var students = c.GetProperty("student").EnumerateArray().Select(a => { var t = Tensor.FromArray(Floats(a), n, cs); t.RequiresGrad = true; return t; }).ToArray();
        var teachers = c.GetProperty("teacher").EnumerateArray().Select(a => Tensor.FromArray(Floats(a), n, ct)).ToArray();
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
        var grads = c.GetProperty("grad_student").EnumerateArray().Select(Floats).ToArray();
        for (int l = 0; l < 2; l++) Close($"student layer {l}", grads[l], students[l].Grad!.ToArray());
        if (matching.Projection is { } projection) Close("projection", Floats(c.GetProperty("grad_projection")), projection.Value.Grad!.ToArray());
        foreach (var t in students.Concat(teachers)) t.Dispose();
    }

    static void Close(string what, float[] expected, float[] actual)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * scale, $"{what}[{i}]: {actual[i]:R} vs {expected[i]:R}");
    }

    [Fact]
    public void Projection_gradient_matches_finite_differences()
    {
        using var matching = new HiddenStateMatching(Config(6, 1), Config(10, 3), HiddenStateLoss.Mse, 1f, seed: 3);
        Assert.Equal([2], matching.LayerMap);
        var rng = new Random(5);
        float[] Random(int count) => Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        using var s = Tensor.FromArray(Random(5 * 6), 5, 6);
        var teachers = Enumerable.Range(0, 3).Select(_ => Tensor.FromArray(Random(5 * 10), 5, 10)).ToArray();
        var w = matching.Projection!.Value;
        double Value()
        {
            using var tape = new Tape();
            using (tape.Activate()) return matching.Term([s], teachers).Item();
        }
        using (var tape = new Tape())
        using (tape.Activate()) tape.Backward(matching.Term([s], teachers));
        var analytic = w.Grad!.ToArray();
        double scale = analytic.Max(Math.Abs);
        var values = w.AsSpan();
        const float h = 1e-2f;
        for (int i = 0; i < values.Length; i += 3)
        {
            float saved = values[i];
            values[i] = saved + h; double up = Value();
            values[i] = saved - h; double down = Value();
            values[i] = saved;
            Assert.True(Math.Abs((up - down) / (2 * h) - analytic[i]) <= 1e-3 * scale, $"W[{i}]: {analytic[i]} vs {(up - down) / (2 * h)}");
        }
        foreach (var t in teachers) t.Dispose();
    }

    [Fact]
    public void Uniform_map_pairs_the_last_layers_and_spreads_the_rest()
    {
        Assert.Equal([1, 3, 5], HiddenStateMatching.UniformMap(3, 6));
        Assert.Equal([0, 2], HiddenStateMatching.UniformMap(2, 3));
        Assert.Equal([11], HiddenStateMatching.UniformMap(1, 12));
        Assert.Equal([0, 0, 0, 1], HiddenStateMatching.UniformMap(4, 2));   // a deeper student: never below layer 0
        Assert.Contains("cosine", Assert.Throws<ArgumentException>(() => new HiddenStateMatching(Config(8, 1), Config(12, 1), HiddenStateLoss.Cosine, 1f)).Message);
        Assert.Contains("--layer-map", Assert.Throws<ArgumentException>(() => new HiddenStateMatching(Config(8, 2), Config(8, 2), HiddenStateLoss.Cosine, 1f, [0, 2])).Message);
    }

    [Fact]
    public void The_objective_captures_every_layer_and_trains_the_projection()
    {
        using var teacher = CausalLM.Create(LogitDistillationObjectiveTests.Teacher, 11);
        using var student = CausalLM.Create(LogitDistillationObjectiveTests.Student with { Layers = 2 }, 12);
        var ids = LogitDistillationObjectiveTests.Corpus(33, 3);
        float[] plain;
        using (Tape.NoGrad()) plain = student.Logits(ids.AsSpan(0, 32), 2, 16).ToArray();
        var captured = new List<Tensor>();
        student.CapturedLayers = captured;
        using (Tape.NoGrad()) Assert.Equal(plain, student.Logits(ids.AsSpan(0, 32), 2, 16).ToArray());   // capturing changes nothing
        student.CapturedLayers = null;
        Assert.Equal(2, captured.Count);
        Assert.All(captured, t => Assert.Equal([2, 16, 32], t.Shape.ToArray()));

        using var matching = new HiddenStateMatching(student.Config, teacher.Config, HiddenStateLoss.Mse, 1f, seed: 1);
        Assert.Equal([0, 2], matching.LayerMap);
        using var objective = new LogitDistillationObjective(teacher, 0.5f, 2f, matching);
        var options = new TrainingOptions { Steps = 3, BatchSize = 2, BlockSize = 16, GradAccum = 1, LearningRate = 1e-2f, WarmupSteps = 1, EvalEvery = 0, CheckpointEvery = 0, Seed = 9 };
        var before = matching.Projection!.Value.ToArray();
        using var trainer = new Trainer(student, options, new TokenStreamSource(LogitDistillationObjectiveTests.Corpus(400, 5), 16), null, null, null,
            objective, [.. student.Parameters, matching.Projection]);
        trainer.TrainStep();
        Assert.Contains(trainer.LastStepMetrics!, m => m.Key == "distill/hidden" && m.Value > 0);
        Assert.NotEqual(before, matching.Projection.Value.ToArray());
        Assert.Null(student.CapturedLayers);
        Assert.Null(teacher.CapturedLayers);
    }
}
