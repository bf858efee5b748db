using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>One named parameter of a model. <see cref="Value"/> is in the engine's layout; when
/// <see cref="StoredTransposed"/> the checkpoint holds its transpose (Hugging Face GPT-2's Conv1D keeps
/// (in, out) where the engine's Linear uses (out, in)).</summary>
public sealed class ModelParameter(string name, Tensor value, bool storedTransposed, bool decay)
{
    /// <summary>The Hugging Face parameter name (transformer.h.0.attn.c_attn.weight, …).</summary>
    public string Name { get; } = name;
    public Tensor Value { get; } = value;
    public bool StoredTransposed { get; } = storedTransposed;
    /// <summary>Whether AdamW applies weight decay (matrices yes; norms, biases, embeddings no).</summary>
    public bool Decay { get; } = decay;

    /// <summary>The shape as stored in model.safetensors.</summary>
    public long[] StoredShape
    {
        get
        {
            var s = Value.Shape;
            return StoredTransposed ? [s[1], s[0]] : s.ToArray().Select(d => (long)d).ToArray();
        }
    }
}
