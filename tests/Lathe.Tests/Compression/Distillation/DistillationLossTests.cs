using System.Text.Json;
using Lathe.Compression.Distillation;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Compression.Distillation;

/// <summary>The fused logit-distillation loss against PyTorch (make_distillation_fixtures.py →
/// fixtures/distillation_reference.json: F.kl_div(log_softmax(s/T), log_softmax(t/T), log_target=True)·T² mixed with
/// cross-entropy, in float64 from float32 inputs), against central finite differences, and the sparse (top-k + rest)
/// form against the dense one at K = V.</summary>
public class DistillationLossTests
{
    static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(
        Path.Combine(AppContext.BaseDirectory, "Compression", "Distillation", "fixtures", "distillation_reference.json"))).RootElement;

    static IEnumerable<JsonElement> Cases => Reference.GetProperty("cases").EnumerateArray();
    public static TheoryData<string> CaseNames => new(Cases.Select(c => c.GetProperty("name").GetString()!));
    static JsonElement Case(string name) => Cases.Single(c => c.GetProperty("name").GetString() == name);

    static float[] Floats(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => (float)v.GetDouble()).ToArray();
    static int[] Ints(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(v => v.GetInt32()).ToArray();
    static float[] Weights(JsonElement c) => c.GetProperty("weights").ValueKind == JsonValueKind.Null ? [] : Floats(c, "weights");

    // Float32 arithmetic against a float64 reference: 1e-5 relative, compared absolutely under a floor of 1e-6.
    static void Close(string what, double expected, double actual, double tolerance = 1e-5, double floor = 1e-6) =>
        Assert.True(Math.Abs(actual - expected) <= tolerance * Math.Max(Math.Abs(expected), floor), $"{what}: {actual:R} vs {expected:R}");

    // A gradient element is a difference of probabilities (pₛ − pₜ), so its float32 error is absolute, on the scale
    // of the row's probabilities, not relative to the element: each is compared within 1e-5 of the largest element.
    static void CloseGradient(string what, float[] expected, float[] actual, double tolerance = 1e-5)
    {
        double scale = expected.Max(Math.Abs);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= tolerance * scale, $"{what}[{i}]: {actual[i]:R} vs {expected[i]:R} (largest {scale:R})");
    }

    static Tensor Leaf(float[] values, int n, int v)
    {
        var t = Tensor.FromArray(values, n, v);
        t.RequiresGrad = true;
        return t;
    }

    // The loss and the student's gradient of one evaluation.
    static (float Loss, float[] Grad) Run(float[] student, int n, int v, Func<Tensor, Tensor> loss)
    {
        using var x = Leaf(student, n, v);
        using var tape = new Tape();
        float value;
        using (tape.Activate())
        {
            var y = loss(x);
            value = y.Item();
            tape.Backward(y);
        }
        return (value, x.Grad!.ToArray());
    }

    static Func<Tensor, Tensor> DenseOf(JsonElement c, float[] teacher)
    {
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32();
        var targets = Ints(c, "targets");
        var weights = Weights(c);
        float alpha = (float)c.GetProperty("alpha").GetDouble(), T = (float)c.GetProperty("temperature").GetDouble();
        return x => DistillationLoss.Dense(x, Tensor.FromArray(teacher, n, v), targets, weights, alpha, T, out _);
    }

    static Func<Tensor, Tensor> SparseOf(JsonElement c, int[] ids, float[] logProbs, float[] rest, int k)
    {
        var targets = Ints(c, "targets");
        var weights = Weights(c);
        float alpha = (float)c.GetProperty("alpha").GetDouble(), T = (float)c.GetProperty("temperature").GetDouble();
        return x => DistillationLoss.Sparse(x, new TopKTeacher(ids, logProbs, rest, k), targets, weights, alpha, T, out _);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Dense_loss_and_gradient_match_PyTorch(string name)
    {
        var c = Case(name);
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32();
        var (loss, grad) = Run(Floats(c, "student"), n, v, DenseOf(c, Floats(c, "teacher")));
        Close("loss", c.GetProperty("loss").GetDouble(), loss);
        var expected = Floats(c, "grad");
        CloseGradient("grad", expected, grad);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Sparse_loss_and_gradient_match_PyTorch(string name)
    {
        var c = Case(name);
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32(), k = c.GetProperty("k").GetInt32();
        var (loss, grad) = Run(Floats(c, "student"), n, v, SparseOf(c, Ints(c, "top_ids"), Floats(c, "top_log_probs"), Floats(c, "rest_mass"), k));
        Close("sparse loss", c.GetProperty("sparse_loss").GetDouble(), loss);
        var expected = Floats(c, "sparse_grad");
        CloseGradient("sparse grad", expected, grad);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Sparse_with_every_token_equals_dense(string name)
    {
        var c = Case(name);
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32();
        var teacher = Floats(c, "teacher");
        float T = (float)c.GetProperty("temperature").GetDouble();
        // K = V: every token's log-probability at T, in a shuffled order per row, and no rest mass.
        var ids = new int[n * v];
        var logProbs = new float[n * v];
        var rng = new Random(7);
        for (int r = 0; r < n; r++)
        {
            var order = Enumerable.Range(0, v).OrderBy(_ => rng.Next()).ToArray();
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < v; j++) max = Math.Max(max, teacher[r * v + j] / T);
            for (int j = 0; j < v; j++) sum += Math.Exp(teacher[r * v + j] / T - max);
            for (int j = 0; j < v; j++)
            {
                ids[r * v + j] = order[j];
                logProbs[r * v + j] = (float)(teacher[r * v + order[j]] / T - max - Math.Log(sum));
            }
        }
        var student = Floats(c, "student");
        var (dense, denseGrad) = Run(student, n, v, DenseOf(c, teacher));
        var (sparse, sparseGrad) = Run(student, n, v, SparseOf(c, ids, logProbs, new float[n], v));
        Close("loss", dense, sparse, 2e-6);
        CloseGradient("grad", denseGrad, sparseGrad, 2e-6);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Gradients_match_finite_differences(string name)
    {
        var c = Case(name);
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32(), k = c.GetProperty("k").GetInt32();
        var student = Floats(c, "student");
        float T = (float)c.GetProperty("temperature").GetDouble();
        CheckFiniteDifferences("dense", student, n, v, T, DenseOf(c, Floats(c, "teacher")));
        CheckFiniteDifferences("sparse", student, n, v, T, SparseOf(c, Ints(c, "top_ids"), Floats(c, "top_log_probs"), Floats(c, "rest_mass"), k));
    }

    // Central differences of the float32 loss. The loss reads x/T, so the step scales with T: h = 1e-2·max(1, T) on
    // logits of order 1..5 keeps truncation (O(h²/T³)) and rounding (≈ 6e-8·loss / h, the loss carrying T²) near 1e-5;
    // compared against the largest gradient element so tiny elements are not judged relatively.
    static void CheckFiniteDifferences(string what, float[] student, int n, int v, float T, Func<Tensor, Tensor> loss)
    {
        var (_, grad) = Run(student, n, v, loss);
        double scale = grad.Max(Math.Abs);
        var probe = (float[])student.Clone();
        float h = 1e-2f * Math.Max(1f, T);
        for (int i = 0; i < probe.Length; i += Math.Max(1, probe.Length / 97))
        {
            float saved = probe[i];
            probe[i] = saved + h;
            double up = Value(probe, n, v, loss);
            probe[i] = saved - h;
            double down = Value(probe, n, v, loss);
            probe[i] = saved;
            double numeric = (up - down) / (2 * h);
            Assert.True(Math.Abs(numeric - grad[i]) <= 1e-3 * scale, $"{what} grad[{i}]: analytic {grad[i]:R} vs finite difference {numeric:R}");
        }
    }

    static double Value(float[] student, int n, int v, Func<Tensor, Tensor> loss)
    {
        using var x = Tensor.FromArray(student, n, v);
        using var tape = new Tape();
        using (tape.Activate()) return loss(x).Item();
    }

    [Fact]
    public void Alpha_zero_is_cross_entropy()
    {
        var c = Case("t2_alpha_0.9_weighted");
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32();
        var targets = Ints(c, "targets");
        var weights = Weights(c);
        var teacher = Floats(c, "teacher");
        var student = Floats(c, "student");
        var (kd, kdGrad) = Run(student, n, v, x => DistillationLoss.Dense(x, Tensor.FromArray(teacher, n, v), targets, weights, 0f, 2f, out _));
        var (ce, ceGrad) = Run(student, n, v, x => Ops.CrossEntropy(x, targets, weights));
        Close("loss", ce, kd, 1e-6);
        CloseGradient("grad", ceGrad, kdGrad, 1e-6);
    }

    [Fact]
    public void A_student_equal_to_its_teacher_has_no_distillation_loss()
    {
        var c = Case("t1_alpha_half");
        int n = c.GetProperty("n").GetInt32(), v = c.GetProperty("v").GetInt32();
        var teacher = Floats(c, "teacher");
        var (loss, grad) = Run(teacher, n, v, x => DistillationLoss.Dense(x, Tensor.FromArray(teacher, n, v), Ints(c, "targets"), [], 1f, 3f, out var terms));
        Assert.True(Math.Abs(loss) < 1e-6, $"KL(p ‖ p) = {loss}");
        Assert.True(grad.Max(Math.Abs) < 1e-6);
    }

    [Fact]
    public void Bad_arguments_are_named()
    {
        using var x = Tensor.FromArray(new float[6], 2, 3);
        using var t = Tensor.FromArray(new float[6], 2, 3);
        Assert.Contains("alpha", Assert.Throws<ArgumentException>(() => DistillationLoss.Dense(x, t, [0, 1], [], 1.5f, 1f, out _)).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentException>(() => DistillationLoss.Dense(x, t, [0, 1], [], 0.5f, 0f, out _)).Message);
        using var wide = Tensor.FromArray(new float[8], 2, 4);
        Assert.Contains("teacher logits", Assert.Throws<ArgumentException>(() => DistillationLoss.Dense(x, wide, [0, 1], [], 0.5f, 1f, out _)).Message);
        Assert.Contains("teacher id 3", Assert.Throws<ArgumentException>(() =>
            DistillationLoss.Sparse(x, new TopKTeacher([0, 3], [-1f, -1f], [0.5f, 0.5f], 1), [0, 1], [], 0.5f, 1f, out _)).Message);
    }
}
