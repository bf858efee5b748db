using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Gemma's feed-forward, GeGLU (Shazeer 2020) with the tanh approximation of GELU (Hugging Face's
/// gelu_pytorch_tanh; llama.cpp's LLM_FFN_GELU + LLM_FFN_PAR): down(GELU_tanh(gate(x)) ⊙ up(x)), (…,C) → (…,I) → (…,C).
/// Differentiable (GELU and the product have gradients). With quantized weights, gate and up run as one stacked matrix,
/// as in <see cref="SwiGluMlp"/>.</summary>
internal sealed class GeGluMlp(LinearLayer gate, LinearLayer up, LinearLayer down)
{
    QuantizedMatrix? _gateUp;

    /// <summary>HF names <paramref name="prefix"/>.gate_proj, .up_proj, .down_proj (no biases).</summary>
    public static GeGluMlp Create(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd) =>
        new(LinearLayer.NoBias(p, prefix + ".gate_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".up_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".down_proj", c.Intermediate, c.Embd, residualStd));

    public IEnumerable<LinearLayer> Linears { get { yield return gate; yield return up; yield return down; } }

    public void FuseQuantized() { DisposeFused(); _gateUp = QuantizedFusion.Stack(gate, up); }

    public void DisposeFused() { _gateUp?.Dispose(); _gateUp = null; }

    public Tensor Forward(Tensor x)
    {
        // Training runs each layer's own rows (see SwiGluMlp: the stacked product's slices would need copies on the tape).
        if (_gateUp is not { } gateUp || Tensors.Autograd.Tape.IsRecording) return down.Forward(GeGlu(gate.Forward(x), up.Forward(x)));
        var both = Ops.QuantLinear(x, gateUp);                              // (…,2·I)
        int I = gateUp.Rows / 2, axis = both.Rank - 1;
        return down.Forward(GeGlu(gate.Adapt(x, Ops.Narrow(both, axis, 0, I)), up.Adapt(x, Ops.Narrow(both, axis, I, I))));
    }

    static Tensor GeGlu(Tensor gate, Tensor up) => Ops.Mul(Ops.Gelu(gate, tanhApproximation: true), up);   // (…,I)
}
