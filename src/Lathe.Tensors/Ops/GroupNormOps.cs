namespace Lathe.Tensors;

// Group normalisation and adaptive layer normalisation (issue #22, vision).
public static unsafe partial class Ops
{
    /// <summary>GroupNorm (torch.nn.functional.group_norm): x (N, C, *) normalised over each group of C/groups channels
    /// and all spatial positions, then per-channel weight and bias (C) when given.</summary>
    public static Tensor GroupNorm(Tensor x, int groups, Tensor? weight, Tensor? bias, float eps = 1e-5f)
        => throw new NotImplementedException("GroupNorm: issue #22 engine work (branch v-engine)");

    /// <summary>Adaptive layer norm (DiT's adaLN): x (B, T, C) normalised over C without affine parameters, then
    /// y = n·(1 + scale[b]) + shift[b] with shift and scale (B, C) shared by the T rows of item b.</summary>
    public static Tensor AdaLayerNorm(Tensor x, Tensor shift, Tensor scale, float eps = 1e-6f)
        => throw new NotImplementedException("AdaLayerNorm: issue #22 engine work (branch v-engine)");
}
