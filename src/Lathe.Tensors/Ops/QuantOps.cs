using System.Numerics.Tensors;
using Lathe.Tensors.Kernels;
using Lathe.Tensors.Quantized;

namespace Lathe.Tensors;

// Quantized weights are frozen: the backward reaches the input (and a bias that needs it) but never the weight, which
// is not a tensor and has no gradient to hold (QLoRA trains adapters over such a base).
public static unsafe partial class Ops
{
    /// <summary>y = x·Wᵀ + b for x (…, K), a quantized W (N, K) and b (N) or null. Differentiable in
    /// <paramref name="x"/> and <paramref name="bias"/> (dx = dy·W, decoded a panel at a time); W is frozen.</summary>
    public static Tensor QuantLinear(Tensor x, QuantizedMatrix weight, Tensor? bias = null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        int outF = weight.Rows, inF = weight.Columns;
        if (x.Rank < 1 || x.Shape[x.Rank - 1] != inF)
            throw new ArgumentException($"QuantLinear: input {Tensor.ShapeString(x.Shape)} does not match {weight.Type} weight ({outF}, {inF}).");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != outF))
            throw new ArgumentException($"QuantLinear: bias {Tensor.ShapeString(bias.Shape)} does not match {weight.Type} weight ({outF}, {inF}).");
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
        if (Record(y, &QuantLinearBackward, cx, null, bias))
        {
            y.I0 = rows;
            y.Extra = weight;   // read by the backward; overwritten by the slot's next use
        }
        return y;
    }

    static void QuantLinearBackward(Tensor y)
    {
        Tensor x = y.In0!;
        var w = (QuantizedMatrix)y.Extra!;
        int rows = y.I0, outF = w.Rows;
        float* g = y.Grad!.Data;
        if (GradOfForWrite(x, out bool freshX) is { } dx)
        {
            float* panel = Scratch.GetForCall(QuantInputGradient.ScratchFloats(outF, w.Columns));
            QuantInputGradient.Backward(g, rows, w, dx.Data, accumulate: !freshX, panel);
        }
        if (GradOfForWrite(y.In2, out bool freshB) is { } db) BiasKernels.SumRows(g, db.Data, rows, outF, freshB);
    }
}
