using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Tests.Vision;

/// <summary>Finite-difference check of a whole model's gradients: for a few elements of every parameter (first, middle,
/// last), the central difference (L(θ + h) − L(θ − h)) / 2h of the scalar loss is compared with the gradient the tape
/// computed. The loss is float32, so h = 1e-2 keeps its round-off (~1e-7 relative) well under the tolerance; the
/// truncation error is O(h²·L''').</summary>
internal static class VisionFiniteDifference
{
    public static void Check(IReadOnlyList<ModelParameter> parameters, Func<Tensor> loss, double tolerance = 3e-3, float h = 1e-2f)
    {
        foreach (var p in parameters) { p.Value.RequiresGrad = true; p.Value.ZeroGrad(); }
        using var tape = new Tape();
        using (tape.Activate()) tape.Backward(loss());
        var grads = parameters.Select(p => p.Value.Grad!.ToArray()).ToArray();
        int checkedElements = 0;
        for (int n = 0; n < parameters.Count; n++)
        {
            var data = parameters[n].Value.AsSpan();
            foreach (int i in new[] { 0, data.Length / 2, data.Length - 1 }.Distinct())
            {
                float saved = data[i];
                data[i] = saved + h;
                double plus = Evaluate(loss, tape);
                data[i] = saved - h;
                double minus = Evaluate(loss, tape);
                data[i] = saved;
                double numeric = (plus - minus) / (2 * h), analytic = grads[n][i];
                Assert.True(Math.Abs(numeric - analytic) <= tolerance * (1 + Math.Abs(numeric)),
                    $"{parameters[n].Name}[{i}]: analytic {analytic:G6}, numeric {numeric:G6}");
                checkedElements++;
            }
        }
        Assert.True(checkedElements >= parameters.Count);
    }

    static double Evaluate(Func<Tensor> loss, Tape tape)
    {
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
            return loss().Item();
    }
}
