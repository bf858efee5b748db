using System.Numerics.Tensors;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors;

// Inference with quantized weights: no backward exists, so a graph that would need one is refused.
public static unsafe partial class Ops
{
    /// <summary>y = x·Wᵀ + b for x (…, K), a quantized W (N, K) and b (N) or null; inference only (throws when the tape
    /// records and <paramref name="x"/> or <paramref name="bias"/> needs a gradient).</summary>
    public static Tensor QuantLinear(Tensor x, QuantizedMatrix weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        int outF = weight.Rows, inF = weight.Columns;
        if (x.Rank < 1 || x.Shape[x.Rank - 1] != inF)
            throw new ArgumentException($"QuantLinear: input {Tensor.ShapeString(x.Shape)} does not match {weight.Type} weight ({outF}, {inF}).");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"QuantLinear: bias {Tensor.ShapeString(bias.Shape)} does not match {weight.Type} weight ({outF}, {inF}).");
        if (Autograd.Tape.IsRecording && (x.NeedsGrad || (bias?.NeedsGrad ?? false)))
            throw new InvalidOperationException("QuantLinear: quantized weights are inference-only; run under Tape.NoGrad() or without a tape.");
        var cx = Contiguous(x);
        Span<int> shape = stackalloc int[x.Rank];
        x.Shape.CopyTo(shape);
        shape[^1] = outF;
        var y = Autograd.Tape.NewResult(shape);
        int rows = x.Length / inF;
        // The activations' Q8_0 copy lives in this thread's call scratch (grown once, reused every token).
        long scratchBytes = QuantMatMul.ScratchBytes(weight.Type, rows, inF);
        byte* scratch = scratchBytes == 0 ? null : (byte*)Scratch.GetForCall((scratchBytes + 3) / 4);
        QuantMatMul.Forward(cx.Data, rows, inF, weight, y.Data, scratch);
        if (bias is not null)
        {
            var cb = new ReadOnlySpan<float>(Contiguous(bias).Data, outF);
            for (int r = 0; r < rows; r++)
            {
                var row = new Span<float>(y.Data + (long)r * outF, outF);
                TensorPrimitives.Add(row, cb, row);
            }
        }
        GC.KeepAlive(weight);
        return y;
    }
}
