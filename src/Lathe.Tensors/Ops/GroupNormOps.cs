using Lathe.Tensors.Kernels;

namespace Lathe.Tensors;

// Group normalisation and adaptive layer normalisation (issue #22, vision). Kernels: Kernels/GroupNormKernels.cs.
public static unsafe partial class Ops
{
    /// <summary>GroupNorm (torch.nn.functional.group_norm): x (N, C, *) normalised over each group of C/groups channels
    /// and all spatial positions, then per-channel weight and bias (C) when given.</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f)
    {
        string Shapes() => $"x {Tensor.ShapeString(x.Shape)}, groups {groups}"
            + (weight is null ? "" : $", weight {Tensor.ShapeString(weight.Shape)}") + (bias is null ? "" : $", bias {Tensor.ShapeString(bias.Shape)}");
        if (x.Rank < 2 || groups < 1 || x.Shape[1] % groups != 0)
            throw new ArgumentException($"GroupNorm: expects x (N, C, *) with C divisible by groups; got {Shapes()}.");
        int n = x.Shape[0], c = x.Shape[1];
        int s = c == 0 || n == 0 ? 0 : x.Length / (n * c);
        if ((weight is not null && (weight.Rank != 1 || weight.Shape[0] != c)) || (bias is not null && (bias.Rank != 1 || bias.Shape[0] != c)))
            throw new ArgumentException($"GroupNorm: weight and bias must be (C); got {Shapes()}.");
        var src = Contiguous(x);
        var w = weight is null ? null : Contiguous(weight);
        var b = bias is null ? null : Contiguous(bias);
        var y = Autograd.Tape.NewResult(x.Shape);
        bool record = Autograd.Tape.IsRecording && (x.NeedsGrad || (weight?.NeedsGrad ?? false) || (bias?.NeedsGrad ?? false));
        Tensor? mean = record ? Autograd.Tape.NewResult([n * groups]) : null;
        Tensor? rstd = record ? Autograd.Tape.NewResult([n * groups]) : null;
        GroupNormKernels.GroupNormForward(src.Data, w is null ? null : w.Data, b is null ? null : b.Data, y.Data,
            mean is null ? null : mean.Data, rstd is null ? null : rstd.Data, n, c, s, groups, eps);
        if (Record(y, &GroupNormBackward, src, w, b))
        {
            y.Saved0 = mean; y.Saved1 = rstd; y.I0 = n; y.I1 = c; y.I2 = groups;
        }
        return y;
    }

    static void GroupNormBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        var dw = GradOf(y.In1);
        var db = GradOf(y.In2);
        int n = y.I0, c = y.I1, s = n == 0 || c == 0 ? 0 : y.Length / (n * c);
        GroupNormKernels.GroupNormBackward(y.In0!.Data, y.In1 is null ? null : y.In1.Data, y.Saved0!.Data, y.Saved1!.Data, y.Grad!.Data,
            dx is null ? null : dx.Data, dw is null ? null : dw.Data, db is null ? null : db.Data, n, c, s, y.I2);
    }

    /// <summary>Adaptive layer norm (DiT's adaLN): x (B, T, C) normalised over C without affine parameters, then
    /// y = n·(1 + scale[b]) + shift[b] with shift and scale (B, C) shared by the T rows of item b.</summary>
    public static Tensor AdaLayerNorm(Tensor x, Tensor shift, Tensor scale, float eps = 1e-6f)
    {
        if (x.Rank != 3 || shift.Rank != 2 || scale.Rank != 2 || shift.Shape[0] != x.Shape[0] || shift.Shape[1] != x.Shape[2]
            || !shift.Shape.SequenceEqual(scale.Shape) || x.Shape[2] == 0)
            throw new ArgumentException($"AdaLayerNorm: expects x (B, T, C) with shift and scale (B, C); got x {Tensor.ShapeString(x.Shape)}, "
                + $"shift {Tensor.ShapeString(shift.Shape)}, scale {Tensor.ShapeString(scale.Shape)}.");
        int batch = x.Shape[0], t = x.Shape[1], c = x.Shape[2];
        var src = Contiguous(x);
        var sh = Contiguous(shift);
        var sc = Contiguous(scale);
        var y = Autograd.Tape.NewResult(x.Shape);
        bool record = Autograd.Tape.IsRecording && (x.NeedsGrad || shift.NeedsGrad || scale.NeedsGrad);
        Tensor? mean = record ? Autograd.Tape.NewResult([batch * t]) : null;
        Tensor? rstd = record ? Autograd.Tape.NewResult([batch * t]) : null;
        GroupNormKernels.AdaLayerNormForward(src.Data, sh.Data, sc.Data, y.Data, mean is null ? null : mean.Data,
            rstd is null ? null : rstd.Data, batch, t, c, eps);
        if (Record(y, &AdaLayerNormBackward, src, sh, sc)) { y.Saved0 = mean; y.Saved1 = rstd; }
        return y;
    }

    static void AdaLayerNormBackward(Tensor y)
    {
        var dx = GradOf(y.In0);
        var dshift = GradOf(y.In1);
        var dscale = GradOf(y.In2);
        GroupNormKernels.AdaLayerNormBackward(y.In0!.Data, y.In2!.Data, y.Saved0!.Data, y.Saved1!.Data, y.Grad!.Data,
            dx is null ? null : dx.Data, dshift is null ? null : dshift.Data, dscale is null ? null : dscale.Data,
            y.Shape[0], y.Shape[1], y.Shape[2]);
    }
}
