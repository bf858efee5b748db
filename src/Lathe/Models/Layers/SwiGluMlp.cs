using Lathe.Tensors;
using Lathe.Tensors.Quantized;

namespace Lathe.Models;

/// <summary>Llama's feed-forward (Shazeer 2020): down(SiLU(gate(x)) ⊙ up(x)), (…,C) → (…,I) → (…,C). With quantized
/// weights, gate and up run as one stacked matrix.</summary>
internal sealed class SwiGluMlp(LinearLayer gate, LinearLayer up, LinearLayer down)
{
    QuantizedMatrix? _gateUp;

    /// <summary>HF names <paramref name="prefix"/>.gate_proj, .up_proj, .down_proj (no biases).</summary>
    public static SwiGluMlp Llama(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd) =>
        new(LinearLayer.NoBias(p, prefix + ".gate_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".up_proj", c.Embd, c.Intermediate, std),
            LinearLayer.NoBias(p, prefix + ".down_proj", c.Intermediate, c.Embd, residualStd));

    public IEnumerable<LinearLayer> Linears { get { yield return gate; yield return up; yield return down; } }

    public void FuseQuantized() { DisposeFused(); _gateUp = QuantizedFusion.Stack(gate, up); }

    public void DisposeFused() { _gateUp?.Dispose(); _gateUp = null; }

    public Tensor Forward(Tensor x)
    {
        // Training (QLoRA) runs the layers' own quantized rows: the stacked product's slices would each need a copy and a
        // full-width gradient on the tape; one activation quantization saved per token is not worth that.
        if (_gateUp is not { } gateUp || Tensors.Autograd.Tape.IsRecording) return down.Forward(Ops.SwiGlu(gate.Forward(x), up.Forward(x)));
        var both = Ops.QuantLinear(x, gateUp);                              // (…,2·I)
        int I = gateUp.Rows / 2, axis = both.Rank - 1;
        return down.Forward(Ops.SwiGlu(gate.Adapt(x, Ops.Narrow(both, axis, 0, I)), up.Adapt(x, Ops.Narrow(both, axis, I, I))));
    }
}
