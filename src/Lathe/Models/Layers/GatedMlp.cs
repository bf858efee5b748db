using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>The gated feed-forward (Shazeer 2020): down(act(gate(x)) ⊙ up(x)), (…,C) → (…,I) → (…,C) — SwiGLU (SiLU,
/// Llama's) or GeGLU with the tanh approximation of GELU (Gemma's: Hugging Face's gelu_pytorch_tanh, llama.cpp's
/// LLM_FFN_GELU + LLM_FFN_PAR). With quantized weights, gate and up run as one stacked matrix.</summary>
internal sealed class GatedMlp(LinearLayer gate, LinearLayer up, LinearLayer down, bool geluTanh)
{
    QuantizedMatrix? _gateUp;

    /// <summary>SwiGLU with HF names <paramref name="prefix"/>.gate_proj, .up_proj, .down_proj (no biases).</summary>
    public static GatedMlp Llama(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd) => Create(p, prefix, c, std, residualStd, geluTanh: false);

    /// <summary>GeGLU (tanh GELU) with the same names.</summary>
    public static GatedMlp Gemma(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd) => Create(p, prefix, c, std, residualStd, geluTanh: true);

    static GatedMlp Create(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd, bool geluTanh) =>
        new(LinearLayer.NoBias(p, prefix + ".gate_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".up_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".down_proj", c.Intermediate, c.Embd, residualStd), geluTanh);

    public IEnumerable<LinearLayer> Linears { get { yield return gate; yield return up; yield return down; } }

    public void FuseQuantized() { DisposeFused(); _gateUp = QuantizedFusion.Stack(gate, up); }

    public void DisposeFused() { _gateUp?.Dispose(); _gateUp = null; }

    public Tensor Forward(Tensor x)
    {
        // Training (QLoRA) runs the layers' own quantized rows: the stacked product's slices would each need a copy and a
        // full-width gradient on the tape; one activation quantization saved per token is not worth that.
        if (_gateUp is not { } gateUp || Tensors.Autograd.Tape.IsRecording) return down.Forward(Gate(gate.Forward(x), up.Forward(x)));
        var both = Ops.QuantLinear(x, gateUp);                              // (…,2·I)
        int I = gateUp.Rows / 2, axis = both.Rank - 1;
        return down.Forward(Gate(gate.Adapt(x, Ops.Narrow(both, axis, 0, I)), up.Adapt(x, Ops.Narrow(both, axis, I, I))));
    }

    Tensor Gate(Tensor g, Tensor u) => geluTanh ? Ops.Mul(Ops.Gelu(g, tanhApproximation: true), u) : Ops.SwiGlu(g, u);   // (…,I)
}
