using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Layers;

/// <summary>Bidirectional multi-head self-attention over a token sequence (Vaswani et al. 2017 §3.2; ViT's MSA):
/// softmax(q·kᵀ/√D)·v per head with no mask, then the output projection. The four projections are
/// <see cref="LinearLayer"/>s with Hugging Face ViT's names (<c>prefix.attention.query|key|value</c>,
/// <c>prefix.output.dense</c>), so adapters (LoRA …) and quantization plug in as they do for the language models. The
/// heads are read in place from the projections' token-major (B, T, H·D) layout by the fused attention kernel; for
/// self-attention without adapters the three input projections run as one stacked GEMM feeding
/// <see cref="Ops.AttentionPacked"/>.</summary>
public sealed class VisionSelfAttention
{
    readonly LinearLayer _query, _key, _value, _output;

    /// <summary>Heads H (the head width is D = width / H).</summary>
    public int Heads { get; }

    /// <summary>Registers <paramref name="prefix"/>.attention.query/.key/.value and .output.dense (width → width, with
    /// bias), weights ~ N(0, std).</summary>
    internal VisionSelfAttention(ParameterBuilder p, string prefix, int width, int heads, float std)
    {
        if (heads <= 0 || width % heads != 0) throw new ArgumentException($"attention: width {width} is not a multiple of {heads} heads");
        Heads = heads;
        _query = LinearLayer.WithBias(p, prefix + ".attention.query", width, width, std);
        _key = LinearLayer.WithBias(p, prefix + ".attention.key", width, width, std);
        _value = LinearLayer.WithBias(p, prefix + ".attention.value", width, width, std);
        _output = LinearLayer.WithBias(p, prefix + ".output.dense", width, width, std);
    }

    /// <summary>query, key, value, output.</summary>
    public IEnumerable<LinearLayer> Linears => [_query, _key, _value, _output];

    /// <summary>x (B, T, C) → (B, T, C), before the residual add. Optional <paramref name="context"/> (B, S, C) gives
    /// the keys and values instead of x (cross-attention, for a resampler); null for self-attention.</summary>
    public Tensor Forward(Tensor x, Tensor? context = null)
    {
        if (context is null && _query.Adapter is null && _key.Adapter is null && _value.Adapter is null
            && _query.Quantized is null && _key.Quantized is null && _value.Quantized is null && _query.InputObserver is null)
            return _output.Forward(Ops.AttentionPacked(FusedQkv(x), Heads, Heads, causal: false));   // (B,T,C)
        var kv = context ?? x;
        var q = _query.Forward(x);                                                    // (B,T,C)
        var k = _key.Forward(kv);                                                     // (B,S,C)
        var v = _value.Forward(kv);                                                   // (B,S,C)
        Tensor y = context is null
            ? Ops.AttentionTokenMajor(q, k, v, Heads, Heads, causal: false)           // (B,T,C), heads in place
            : CrossAttention(q, k, v);
        return _output.Forward(y);
    }

    // Self-attention's three projections as one GEMM, x·[Wq; Wk; Wv]ᵀ + [bq; bk; bv] → (B,T,3C): per token the H query
    // heads, then the key heads, then the value heads — the packed layout the fused attention kernel reads in place (as
    // GPT-2's c_attn feeds it). The weights stay three parameters with their Hugging Face names; stacking them is a
    // (3C,C) copy per step whose backward hands each its rows of the gradient, far cheaper than the three GEMMs'
    // passes over x and the token-major kernel's own gathering of q, k and v.
    Tensor FusedQkv(Tensor x) => Ops.Linear(x, Ops.Concat([_query.Weight, _key.Weight, _value.Weight], 0),
        Ops.Concat([_query.Bias!, _key.Bias!, _value.Bias!], 0));

    // T ≠ S: split heads and run the general kernel (the token-major kernel needs T = S).
    Tensor CrossAttention(Tensor q, Tensor k, Tensor v)
    {
        int B = q.Dim(0), T = q.Dim(1), S = k.Dim(1), C = q.Dim(2), H = Heads, D = C / H;
        Tensor Split(Tensor t, int len) => Ops.Permute(Ops.Reshape(t, B, len, H, D), 0, 2, 1, 3);   // (B,H,len,D)
        var y = Ops.Attention(Split(q, T), Split(k, S), Split(v, S), causal: false);                 // (B,H,T,D)
        return Ops.Reshape(Ops.Transpose(y, 1, 2), B, T, C);
    }
}
