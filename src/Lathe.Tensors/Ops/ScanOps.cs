namespace Lathe.Tensors;

// Running sums along the last axis (NeRF's transmittance: T_i = exp(−Σ_{j<i} σ_j δ_j)). Issue #22.
public static unsafe partial class Ops
{
    /// <summary>Cumulative sum over the last axis; <paramref name="exclusive"/> leaves out each element itself
    /// (y_i = Σ_{j&lt;i} x_j, so y_0 = 0).</summary>
    public static Tensor CumSum(Tensor x, bool exclusive = false)
        => throw new NotImplementedException("CumSum: issue #22 engine work (branch v-engine)");

    /// <summary>Leaky ReLU: x for x ≥ 0, slope·x otherwise (DCGAN's discriminator).</summary>
    public static Tensor LeakyRelu(Tensor x, float slope)
        => throw new NotImplementedException("LeakyRelu: issue #22 engine work (branch v-engine)");
}
