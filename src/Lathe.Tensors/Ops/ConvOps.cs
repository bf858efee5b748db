namespace Lathe.Tensors;

// 2-D convolution and its transpose over NCHW tensors, with PyTorch's semantics (torch.nn.functional.conv2d /
// conv_transpose2d): square stride and zero padding, groups for conv2d. Issue #22 (vision).
public static unsafe partial class Ops
{
    /// <summary>2-D convolution: x (N, C, H, W), weight (O, C/groups, KH, KW), bias (O) or null → (N, O, Ho, Wo) with
    /// Ho = (H + 2·padding − KH)/stride + 1 (likewise Wo). Cross-correlation, as PyTorch computes it.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int groups = 1)
        => throw new NotImplementedException("Conv2d: issue #22 engine work (branch v-engine)");

    /// <summary>Transposed 2-D convolution (the gradient of Conv2d with respect to its input): x (N, C, H, W),
    /// weight (C, O, KH, KW) as PyTorch's ConvTranspose2d holds it, bias (O) or null → (N, O, Ho, Wo) with
    /// Ho = (H − 1)·stride − 2·padding + KH + outputPadding.</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias, int stride = 1, int padding = 0, int outputPadding = 0)
        => throw new NotImplementedException("ConvTranspose2d: issue #22 engine work (branch v-engine)");
}
