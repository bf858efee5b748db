using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>One pre-LN Transformer encoder block as in ViT (Dosovitskiy et al. 2021, eq. 2–3):
/// x ← x + Dropout(MSA(LN(x))); x ← x + Dropout(MLP(LN(x))), the MLP being dense → exact (erf) GELU → dense with
/// hidden width ratio·C. Hugging Face ViTLayer names under <c>prefix</c>: layernorm_before, attention.attention.{query,
/// key,value}, attention.output.dense, layernorm_after, intermediate.dense, output.dense.</summary>
public sealed class EncoderBlock
{
    readonly NormLayer _normBefore, _normAfter;
    readonly LinearLayer _intermediate, _output;

    /// <summary>The block's self-attention (DiT and CLIP reuse the layer).</summary>
    public VisionSelfAttention Attention { get; }

    internal EncoderBlock(ParameterBuilder p, string prefix, int width, int heads, int intermediate, float eps, float std)
    {
        _normBefore = new NormLayer(p, prefix + ".layernorm_before", width, rms: false, eps);
        Attention = new VisionSelfAttention(p, prefix + ".attention", width, heads, std);
        _normAfter = new NormLayer(p, prefix + ".layernorm_after", width, rms: false, eps);
        _intermediate = LinearLayer.WithBias(p, prefix + ".intermediate.dense", width, intermediate, std);
        _output = LinearLayer.WithBias(p, prefix + ".output.dense", intermediate, width, std);
    }

    /// <summary>The attention's four projections, then intermediate.dense and output.dense.</summary>
    public IEnumerable<LinearLayer> Linears => [.. Attention.Linears, _intermediate, _output];

    /// <summary>x (B, T, C) → (B, T, C). <paramref name="dropout"/> maps a residual branch to itself with dropout
    /// applied (identity when off).</summary>
    public Tensor Forward(Tensor x, Func<Tensor, Tensor>? dropout = null)
    {
        var a = Attention.Forward(_normBefore.Forward(x));                           // (B,T,C)
        x = Ops.Add(x, dropout is null ? a : dropout(a));
        var h = Ops.Gelu(_intermediate.Forward(_normAfter.Forward(x)), tanhApproximation: false);   // (B,T,I)
        var m = _output.Forward(h);                                                  // (B,T,C)
        return Ops.Add(x, dropout is null ? m : dropout(m));
    }
}
