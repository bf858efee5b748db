using Lathe.Tensors;

namespace Lathe.Vision.Nerf;

/// <summary>NeRF's volume rendering, the quadrature of Mildenhall et al. 2020, eq. 3 (after Max 1995):
/// α_i = 1 − exp(−σ_i δ_i), T_i = exp(−Σ_{j&lt;i} σ_j δ_j), w_i = T_i α_i, and the pixel colour
/// Ĉ = Σ_i w_i c_i + (1 − Σ_i w_i)·background — the light that passes every sample sees the background colour.
/// Composed from differentiable ops (the exclusive running sum is the engine's CumSum), so the tape carries the
/// gradient to every density and colour.</summary>
public static class VolumeRenderer
{
    /// <summary>The weights w_i = T_i (1 − exp(−σ_i δ_i)): (R,S) from densities σ (R,S) and spacings δ (R,S).</summary>
    public static Tensor Weights(Tensor sigma, Tensor delta)
    {
        var opticalDepth = Ops.Mul(sigma, delta);                               // σ_i δ_i            (R,S)
        var transmittance = Ops.Exp(Ops.Scale(Ops.CumSum(opticalDepth, exclusive: true), -1f)); // T_i (R,S)
        var alpha = Ops.Affine(Ops.Exp(Ops.Scale(opticalDepth, -1f)), -1f, 1f);  // 1 − exp(−σ_i δ_i)  (R,S)
        return Ops.Mul(transmittance, alpha);
    }

    /// <summary>The rendered colour (R,3) from densities σ (R,S), colours c (R,S,3), spacings δ (R,S) and a background
    /// colour (a (3) tensor).</summary>
    public static Tensor Composite(Tensor sigma, Tensor rgb, Tensor delta, Tensor background)
    {
        int rays = sigma.Shape[0], samples = sigma.Shape[1];
        var w = Weights(sigma, delta);                                            // (R,S)
        var colour = Ops.Sum(Ops.Mul(Ops.Reshape(w, rays, samples, 1), rgb), 1);   // Σ w_i c_i (R,3)
        var passed = Ops.Affine(Ops.Sum(w, 1, keepDim: true), -1f, 1f);           // 1 − Σ w_i (R,1)
        return Ops.Add(colour, Ops.Mul(passed, background));                      // (R,3)
    }
}
