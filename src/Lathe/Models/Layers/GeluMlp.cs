using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>GPT-2's feed-forward: c_proj(GELU_tanh(c_fc(x))), (…,C) → (…,4C) → (…,C).</summary>
internal sealed class GeluMlp(LinearLayer fc, LinearLayer proj)
{
    /// <summary>HF names <paramref name="prefix"/>.c_fc and .c_proj (Conv1D layout).</summary>
    public static GeluMlp Gpt2(ParameterBuilder p, string prefix, ModelConfig c, float std, float residualStd) =>
        new(LinearLayer.Conv1D(p, prefix + ".c_fc", c.Embd, c.Intermediate, std), LinearLayer.Conv1D(p, prefix + ".c_proj", c.Intermediate, c.Embd, residualStd));

    public IEnumerable<LinearLayer> Linears { get { yield return fc; yield return proj; } }

    public Tensor Forward(Tensor x) => proj.Forward(Ops.Gelu(fc.Forward(x), tanhApproximation: true));
}
