using Lathe.Tensors.Autograd;

namespace Lathe.Tensors;

/// <summary>The differentiable operations of the engine. Each op validates its arguments (naming the op and
/// the shapes), runs a forward kernel into a result tensor (a tape slot when a tape is active), and, when
/// recording and some input needs a gradient, stores on the result the backward function and what it reads.
/// Backward functions add into their inputs' gradients.</summary>
public static unsafe partial class Ops
{
    /// <summary>Attaches a backward node to <paramref name="result"/> if the tape records and an input needs grad.</summary>
    internal static bool Record(Tensor result, delegate*<Tensor, void> backward, Tensor? in0, Tensor? in1 = null, Tensor? in2 = null, Tensor? in3 = null)
    {
        if (!WillRecord(in0, in1, in2, in3)) return false;
        result.BackwardFn = backward;
        result.In0 = in0; result.In1 = in1; result.In2 = in2; result.In3 = in3;
        return true;
    }

    /// <summary>Whether <see cref="Record"/> would attach a backward for these inputs: for ops that prepare what the
    /// backward reads before their forward runs.</summary>
    internal static bool WillRecord(Tensor? in0, Tensor? in1 = null, Tensor? in2 = null, Tensor? in3 = null) =>
        Tape.IsRecording && ((in0?.NeedsGrad ?? false) || (in1?.NeedsGrad ?? false) || (in2?.NeedsGrad ?? false) || (in3?.NeedsGrad ?? false));

    /// <summary>The gradient of <paramref name="t"/> to add into, or null when it needs none.</summary>
    internal static Tensor? GradOf(Tensor? t) => t is not null && t.NeedsGrad ? t.GradForAccumulate() : null;

    /// <summary>The gradient of <paramref name="t"/> for a backward that writes all of it (see
    /// <see cref="Tensor.GradForWrite"/>), or null when it needs none.</summary>
    internal static Tensor? GradOfForWrite(Tensor? t, out bool overwrite)
    {
        overwrite = false;
        return t is not null && t.NeedsGrad ? t.GradForWrite(out overwrite) : null;
    }

    /// <summary>dst = src when <paramref name="overwrite"/>, else dst += src, over n floats.</summary>
    internal static unsafe void WriteOrAccumulate(float* src, float* dst, long n, bool overwrite)
    {
        if (overwrite) Kernels.ParallelSpans.Copy(src, dst, n);
        else Kernels.ParallelSpans.Accumulate(src, dst, n);
    }

    /// <summary>A view of the same values with no graph behind it.</summary>
    public static Tensor Detach(Tensor x) => Tape.NewView(x, x.Shape, x.Strides, x.Offset);

    internal static void RequireSameShape(string op, Tensor a, Tensor b)
    {
        if (!a.Shape.SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shapes {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} differ.");
    }

    internal static void RequireRank(string op, Tensor t, int rank, string what)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: {what} has shape {Tensor.ShapeString(t.Shape)}, expected rank {rank}.");
    }
}
