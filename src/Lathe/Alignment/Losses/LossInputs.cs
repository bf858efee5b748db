using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Alignment;

/// <summary>The checks and constants the alignment losses share. Per-example inputs that carry no gradient
/// (reference log-probs, advantages, masks) arrive as spans and become tape slots here, so a training step that
/// repeats allocates nothing once the tape is warm.</summary>
internal static class LossInputs
{
    /// <summary>Throws unless a tape is active: the losses build their constants as tape slots, and without a tape
    /// every intermediate would be a caller-owned tensor nobody disposes.</summary>
    public static void RequireTape(string op)
    {
        if (Tape.Current is null)
            throw new InvalidOperationException($"{op}: run under an active tape (using (tape.Activate()) …); use Tape.NoGrad() inside it for evaluation.");
    }

    /// <summary>Throws unless <paramref name="t"/> is a vector; returns its length.</summary>
    public static int Vector(string op, string name, Tensor t)
    {
        if (t.Rank != 1) throw new ArgumentException($"{op}: {name} has shape {Tensor.ShapeString(t.Shape)}, expected a vector (N).");
        return t.Length;
    }

    /// <summary>Throws unless <paramref name="values"/> has <paramref name="n"/> finite elements.</summary>
    public static void Finite(string op, string name, ReadOnlySpan<float> values, int n)
    {
        if (values.Length != n) throw new ArgumentException($"{op}: {name} has {values.Length} values, expected {n}.");
        for (int i = 0; i < n; i++)
            if (!float.IsFinite(values[i])) throw new ArgumentException($"{op}: {name}[{i}] = {values[i]} is not finite.");
    }

    /// <summary>Checks a mask (n values, each finite and ≥ 0) and returns Σ m in double; throws when it is 0, since a
    /// masked mean over nothing has no value.</summary>
    public static double MaskSum(string op, ReadOnlySpan<float> mask, int n)
    {
        if (mask.Length != n) throw new ArgumentException($"{op}: mask has {mask.Length} values, expected {n}.");
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            if (!(mask[i] >= 0f && float.IsFinite(mask[i]))) throw new ArgumentException($"{op}: mask[{i}] = {mask[i]} must be finite and ≥ 0.");
            sum += mask[i];
        }
        if (sum == 0) throw new ArgumentException($"{op}: the mask selects no element.");
        return sum;
    }

    /// <summary>A constant vector scale·values as a tape slot (no gradient).</summary>
    public static unsafe Tensor Constant(ReadOnlySpan<float> values, float scale = 1f)
    {
        var t = Tape.NewResult([values.Length]);
        float* p = t.Data;
        for (int i = 0; i < values.Length; i++) p[i] = scale * values[i];
        return t;
    }

    /// <summary>A constant vector a − b as a tape slot.</summary>
    public static unsafe Tensor Difference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var t = Tape.NewResult([a.Length]);
        float* p = t.Data;
        for (int i = 0; i < a.Length; i++) p[i] = a[i] - b[i];
        return t;
    }

    /// <summary>Σ x·m / Σ m as a scalar on the tape (TRL's masked_mean).</summary>
    public static Tensor MaskedMean(Tensor x, ReadOnlySpan<float> mask, double maskSum) =>
        Ops.Affine(Ops.SumAll(Ops.Mul(x, Constant(mask))), (float)(1.0 / maskSum));
}
