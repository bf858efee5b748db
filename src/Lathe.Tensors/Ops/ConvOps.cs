using Lathe.Tensors.Kernels;

namespace Lathe.Tensors;

// 2-D convolution and its transpose over NCHW tensors, with PyTorch's semantics (torch.nn.functional.conv2d /
// conv_transpose2d): square stride and zero padding, groups for conv2d. Issue #22 (vision).
//
// One geometry serves both: a transposed convolution's forward is a convolution's input gradient, its input gradient
// is a convolution's forward, and its weight gradient is a convolution's weight gradient with the roles of input and
// output gradient exchanged (the conv's input is the transposed conv's output). Kernels: Kernels/ConvKernels.cs.
public static unsafe partial class Ops
{
    /// <summary>2-D convolution: x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O) or null → (N, O, Ho, Wo) with
    /// Ho = (H + 2·padding − KH)/stride + 1 (likewise Wo). Cross-correlation, as PyTorch computes it.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int groups = 1)
    {
        var g = ConvGeometryOf(x, weight, bias, stride, padding, groups);
        var src = Contiguous(x);
        var w = Contiguous(weight);
        var b = bias is null ? null : Contiguous(bias);
        var y = Autograd.Tape.NewResult([g.N, g.O, g.Ho, g.Wo]);
        ConvKernels.Forward(g, src.Data, w.Data, b is null ? null : b.Data, y.Data, accumulate: false);
        if (Record(y, &Conv2dBackward, src, w, b)) { y.I0 = stride; y.I1 = padding; y.I2 = groups; }
        return y;
    }

    static void Conv2dBackward(Tensor y)
    {
        Tensor x = y.In0!, w = y.In1!;
        var g = new ConvGeometry(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[0], w.Shape[2], w.Shape[3],
            y.Shape[2], y.Shape[3], y.I0, y.I1, y.I2);
        float* dy = y.Grad!.Data;
        if (GradOfForWrite(x, out bool ox) is { } dx) ConvKernels.BackwardInput(g, dy, w.Data, dx.Data, accumulate: !ox);
        if (GradOfForWrite(w, out bool ow) is { } dw) ConvKernels.BackwardWeight(g, x.Data, dy, dw.Data, accumulate: !ow);
        if (GradOfForWrite(y.In2, out bool ob) is { } db) ConvKernels.BackwardBias(dy, db.Data, g.N, g.O, g.OutputPixels, accumulate: !ob);
    }

    /// <summary>Transposed 2-D convolution (the gradient of Conv2d with respect to its input): x (N, C, H, W),
    /// weight (C, O, KH, KW) as PyTorch's ConvTranspose2d holds it, bias (O) or null → (N, O, Ho, Wo) with
    /// Ho = (H − 1)·stride − 2·padding + KH + outputPadding.</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int outputPadding = 0)
    {
        var g = ConvTransposeGeometryOf(x, weight, bias, stride, padding, outputPadding);
        var src = Contiguous(x);
        var w = Contiguous(weight);
        var b = bias is null ? null : Contiguous(bias);
        // (N, C, H, W) is the geometry's output; the result (N, O, Ho, Wo) its input.
        var y = Autograd.Tape.NewResult([g.N, g.C, g.H, g.W]);
        ConvKernels.BackwardInput(g, src.Data, w.Data, y.Data, accumulate: false);
        if (b is not null) ConvKernels.AddChannelBias(y.Data, b.Data, g.N, g.C, g.H * g.W);
        if (Record(y, &ConvTranspose2dBackward, src, w, b)) { y.I0 = stride; y.I1 = padding; }
        return y;
    }

    static void ConvTranspose2dBackward(Tensor y)
    {
        Tensor x = y.In0!, w = y.In1!;
        var g = new ConvGeometry(y.Shape[0], y.Shape[1], y.Shape[2], y.Shape[3], x.Shape[1], w.Shape[2], w.Shape[3],
            x.Shape[2], x.Shape[3], y.I0, y.I1, 1);
        float* dy = y.Grad!.Data;
        if (GradOfForWrite(x, out bool ox) is { } dx) ConvKernels.Forward(g, dy, w.Data, null, dx.Data, accumulate: !ox);
        if (GradOfForWrite(w, out bool ow) is { } dw) ConvKernels.BackwardWeight(g, dy, x.Data, dw.Data, accumulate: !ow);
        if (GradOfForWrite(y.In2, out bool ob) is { } db) ConvKernels.BackwardBias(dy, db.Data, g.N, g.C, g.H * g.W, accumulate: !ob);
    }

    static ConvGeometry ConvGeometryOf(Tensor x, Tensor weight, Tensor? bias, int stride, int padding, int groups)
    {
        string Shapes() => $"x {Tensor.ShapeString(x.Shape)}, weight {Tensor.ShapeString(weight.Shape)}"
            + (bias is null ? "" : $", bias {Tensor.ShapeString(bias.Shape)}") + $", stride {stride}, padding {padding}, groups {groups}";
        if (x.Rank != 4 || weight.Rank != 4)
            throw new ArgumentException($"Conv2d: expects x (N, C, H, W) and weight (O, C/groups, KH, KW); got {Shapes()}.");
        if (stride < 1 || padding < 0 || groups < 1)
            throw new ArgumentException($"Conv2d: stride must be ≥ 1, padding ≥ 0 and groups ≥ 1; got {Shapes()}.");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = weight.Shape[0], kh = weight.Shape[2], kw = weight.Shape[3];
        if (c % groups != 0 || o % groups != 0 || weight.Shape[1] != c / groups)
            throw new ArgumentException($"Conv2d: channels do not match (C and O must divide by groups, weight dim 1 must be C/groups); got {Shapes()}.");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != o))
            throw new ArgumentException($"Conv2d: bias must be (O); got {Shapes()}.");
        if (kh < 1 || kw < 1 || h + 2 * padding < kh || wd + 2 * padding < kw || c == 0 || o == 0)
            throw new ArgumentException($"Conv2d: the kernel does not fit the padded image; got {Shapes()}.");
        int ho = (h + 2 * padding - kh) / stride + 1, wo = (wd + 2 * padding - kw) / stride + 1;
        return new ConvGeometry(n, c, h, wd, o, kh, kw, ho, wo, stride, padding, groups);
    }

    /// <summary>The geometry of the convolution whose input gradient is this transposed convolution: its input is the
    /// result (N, O, Ho, Wo), its output the argument x (N, C, H, W), its weight (C, O, KH, KW).</summary>
    static ConvGeometry ConvTransposeGeometryOf(Tensor x, Tensor weight, Tensor? bias, int stride, int padding, int outputPadding)
    {
        string Shapes() => $"x {Tensor.ShapeString(x.Shape)}, weight {Tensor.ShapeString(weight.Shape)}"
            + (bias is null ? "" : $", bias {Tensor.ShapeString(bias.Shape)}") + $", stride {stride}, padding {padding}, outputPadding {outputPadding}";
        if (x.Rank != 4 || weight.Rank != 4)
            throw new ArgumentException($"ConvTranspose2d: expects x (N, C, H, W) and weight (C, O, KH, KW); got {Shapes()}.");
        if (stride < 1 || padding < 0 || outputPadding < 0 || outputPadding >= stride)
            throw new ArgumentException($"ConvTranspose2d: stride must be ≥ 1, padding ≥ 0 and 0 ≤ outputPadding < stride; got {Shapes()}.");
        int n = x.Shape[0], c = x.Shape[1], h = x.Shape[2], wd = x.Shape[3];
        int o = weight.Shape[1], kh = weight.Shape[2], kw = weight.Shape[3];
        if (weight.Shape[0] != c || c == 0 || o == 0)
            throw new ArgumentException($"ConvTranspose2d: weight dim 0 must equal the input channels C; got {Shapes()}.");
        if (bias is not null && (bias.Rank != 1 || bias.Shape[0] != o))
            throw new ArgumentException($"ConvTranspose2d: bias must be (O); got {Shapes()}.");
        int ho = (h - 1) * stride - 2 * padding + kh + outputPadding, wo = (wd - 1) * stride - 2 * padding + kw + outputPadding;
        if (kh < 1 || kw < 1 || h < 1 || wd < 1 || ho < 1 || wo < 1)
            throw new ArgumentException($"ConvTranspose2d: the output would be empty ({ho}×{wo}); got {Shapes()}.");
        return new ConvGeometry(n, o, ho, wo, c, kh, kw, h, wd, stride, padding, 1);
    }
}
