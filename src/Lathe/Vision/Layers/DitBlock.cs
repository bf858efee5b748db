using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>One DiT block with adaLN-Zero conditioning (Peebles &amp; Xie 2023, §3.2 and Fig. 3): a SiLU + Linear of the
/// conditioning vector c gives six (B, C) vectors — shift, scale and gate for the attention branch and for the MLP
/// branch — and
///   x = x + gate_msa·Attn(adaLN(x; shift_msa, scale_msa)),   x = x + gate_mlp·MLP(adaLN(x; shift_mlp, scale_mlp)),
/// with adaLN(x) = LayerNorm(x)·(1 + scale) + shift (no learned affine, eps 1e-6), bidirectional multi-head attention
/// (fused qkv with bias) and a GELU(tanh) MLP. The modulation Linear starts at zero, so every gate is 0 and the block
/// starts as the identity. Parameter names are the reference implementation's (blocks.N.attn.qkv, …).</summary>
public sealed class DitBlock
{
    readonly LinearLayer _qkv, _proj, _fc1, _fc2, _modulation;
    readonly int _width, _heads;

    public const float NormEps = 1e-6f;

    internal DitBlock(ParameterBuilder p, string prefix, int width, int heads, int mlpHidden)
    {
        if (width % heads != 0) throw new ArgumentException($"DiT: hidden_size {width} is not divisible by num_heads {heads}");
        _width = width;
        _heads = heads;
        _qkv = Xavier(p, prefix + ".attn.qkv", width, 3 * width);
        _proj = Xavier(p, prefix + ".attn.proj", width, width);
        _fc1 = Xavier(p, prefix + ".mlp.fc1", width, mlpHidden);
        _fc2 = Xavier(p, prefix + ".mlp.fc2", mlpHidden, width);
        _modulation = Zero(p, prefix + ".adaLN_modulation.1", width, 6 * width);
    }

    /// <summary>x (B, T, C) conditioned on c (B, C) → (B, T, C).</summary>
    public Tensor Forward(Tensor x, Tensor c)
    {
        int B = x.Dim(0), C = _width;
        var mod = _modulation.Forward(Ops.Silu(c));                                              // (B,C) → (B,6C)
        var h = Ops.AdaLayerNorm(x, Chunk(mod, 0), Chunk(mod, 1), NormEps);                    // (B,T,C)
        var attention = _proj.Forward(Ops.AttentionPacked(_qkv.Forward(h), _heads, _heads, causal: false));   // (B,T,3C) → (B,T,C)
        x = Ops.Add(x, Ops.Mul(attention, Ops.Reshape(Chunk(mod, 2), B, 1, C)));
        h = Ops.AdaLayerNorm(x, Chunk(mod, 3), Chunk(mod, 4), NormEps);
        var mlp = _fc2.Forward(Ops.Gelu(_fc1.Forward(h), tanhApproximation: true));            // (B,T,4C) → (B,T,C)
        return Ops.Add(x, Ops.Mul(mlp, Ops.Reshape(Chunk(mod, 5), B, 1, C)));
    }

    // Part k of the six (B,C) modulation vectors, in the reference's order: shift, scale, gate (attention), shift, scale, gate (MLP).
    Tensor Chunk(Tensor mod, int k) => Ops.Contiguous(Ops.Narrow(mod, 1, k * _width, _width));

    /// <summary>An nn.Linear with bias, weight drawn with Xavier's variance 2/(in + out) (DiT initialises its Linears
    /// Xavier-uniform; this is the normal with the same variance), bias 0.</summary>
    internal static LinearLayer Xavier(ParameterBuilder p, string name, int inFeatures, int outFeatures) =>
        LinearLayer.WithBias(p, name, inFeatures, outFeatures, MathF.Sqrt(2f / (inFeatures + outFeatures)));

    /// <summary>An nn.Linear with weight and bias zero (adaLN-Zero's modulation and DiT's final projection).</summary>
    internal static LinearLayer Zero(ParameterBuilder p, string name, int inFeatures, int outFeatures) =>
        LinearLayer.WithBias(p, name, inFeatures, outFeatures, 0f);
}
