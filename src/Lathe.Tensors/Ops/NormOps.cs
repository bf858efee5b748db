namespace Lathe.Tensors;

// Softmax, log-softmax, LayerNorm and RMSNorm over the last axis: the input is seen as (N, C) rows.
public static unsafe partial class Ops
{
    static int Rows(Tensor x, out int cols, string op)
    {
        if (x.Rank == 0) throw new ArgumentException($"{op}: needs rank ≥ 1, got a scalar.");
        cols = x.Shape[x.Rank - 1];
        return cols == 0 ? 0 : x.Length / cols;
    }

    /// <summary>Softmax over the last axis.</summary>
    public static Tensor Softmax(Tensor x) => SoftmaxCore("Softmax", x, log: false);

    /// <summary>Log-softmax over the last axis.</summary>
    public static Tensor LogSoftmax(Tensor x) => SoftmaxCore("LogSoftmax", x, log: true);

    static Tensor SoftmaxCore(string op, Tensor x, bool log)
    {
        var src = Contiguous(x);
        int rows = Rows(x, out int cols, op);
        var y = Autograd.Tape.NewResult(x.Shape);
        Kernels.SoftmaxKernel.Forward(src.Data, y.Data, rows, cols, log);
        if (Record(y, &SoftmaxBackward, src)) { y.B0 = log; y.I0 = rows; y.I1 = cols; }
        return y;
    }

    static void SoftmaxBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        if (dx is null) return;
        Kernels.SoftmaxKernel.Backward(y.Data, y.Grad!.Data, dx.Data, y.I0, y.I1, y.B0);
    }

    /// <summary>LayerNorm over the last axis: (x − mean)/√(var + eps) · weight + bias.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor weight, Tensor? bias, float eps = 1e-5f)
    {
        int rows = Rows(x, out int cols, "LayerNorm");
        if (weight.Rank != 1 || weight.Shape[0] != cols || (bias is not null && (bias.Rank != 1 || bias.Shape[0] != cols)))
            throw new ArgumentException($"LayerNorm: weight {Tensor.ShapeString(weight.Shape)}{(bias is null ? "" : $" / bias {Tensor.ShapeString(bias.Shape)}")} does not match input {Tensor.ShapeString(x.Shape)}.");
        var src = Contiguous(x);
        var w = Contiguous(weight);
        var b = bias is null ? null : Contiguous(bias);
        var y = Autograd.Tape.NewResult(x.Shape);
        bool record = Autograd.Tape.IsRecording && (x.NeedsGrad || weight.NeedsGrad || (bias?.NeedsGrad ?? false));
        Tensor? mean = record ? Autograd.Tape.NewResult([rows]) : null;
        Tensor? rstd = record ? Autograd.Tape.NewResult([rows]) : null;
        Kernels.NormKernels.Forward(false, src.Data, w.Data, b is null ? null : b.Data, y.Data,
            mean is null ? null : mean.Data, rstd is null ? null : rstd.Data, rows, cols, eps);
        if (Record(y, &LayerNormBackward, src, w, b))
        {
            y.Saved0 = mean; y.Saved1 = rstd; y.I0 = rows; y.I1 = cols;
        }
        return y;
    }

    static void LayerNormBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        var dw = GradOf(y.In1);
        var db = GradOf(y.In2);
        Kernels.NormKernels.Backward(false, y.In0!.Data, y.In1!.Data, y.Saved0!.Data, y.Saved1!.Data, y.Grad!.Data,
            dx is null ? null : dx.Data, dw is null ? null : dw.Data, db is null ? null : db.Data, y.I0, y.I1);
    }

    /// <summary>RMSNorm over the last axis: x / √(mean(x²) + eps) · weight (Llama).</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, float eps = 1e-6f)
    {
        int rows = Rows(x, out int cols, "RmsNorm");
        if (weight.Rank != 1 || weight.Shape[0] != cols)
            throw new ArgumentException($"RmsNorm: weight {Tensor.ShapeString(weight.Shape)} does not match input {Tensor.ShapeString(x.Shape)}.");
        var src = Contiguous(x);
        var w = Contiguous(weight);
        var y = Autograd.Tape.NewResult(x.Shape);
        bool record = Autograd.Tape.IsRecording && (x.NeedsGrad || weight.NeedsGrad);
        Tensor? rstd = record ? Autograd.Tape.NewResult([rows]) : null;
        Kernels.NormKernels.Forward(true, src.Data, w.Data, null, y.Data, null, rstd is null ? null : rstd.Data, rows, cols, eps);
        if (Record(y, &RmsNormBackward, src, w)) { y.Saved0 = rstd; y.I0 = rows; y.I1 = cols; }
        return y;
    }

    static void RmsNormBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        var dw = GradOf(y.In1);
        Kernels.NormKernels.Backward(true, y.In0!.Data, y.In1!.Data, null, y.Saved0!.Data, y.Grad!.Data,
            dx is null ? null : dx.Data, dw is null ? null : dw.Data, null, y.I0, y.I1);
    }
}
