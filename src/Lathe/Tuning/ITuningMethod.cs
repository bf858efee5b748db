using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>A fine-tuning method attached to one loaded model: full fine-tuning, LoRA / QLoRA, prefix tuning, prompt
/// tuning or bottleneck adapters — each a small file of its own in this folder. The method plugs into the model's seams
/// (the linear layers' adapter slot, attention prefix keys/values, input embeddings) and never forks an architecture;
/// the trainer sees only its <see cref="Trainable"/> set and calls <see cref="Embed"/> once per forward.</summary>
/// <remarks>Lifecycle: a method's factory attaches it to a model (fresh weights, or loaded from an adapter folder);
/// training runs; <see cref="Save"/> writes the files people already use (PEFT's <c>adapter_config.json</c> +
/// <c>adapter_model.safetensors</c>, or a whole checkpoint for full fine-tuning); <see cref="Detach"/> takes it off
/// the model again so the base is as it was (other adapters can then be attached to the same base) and
/// <see cref="Attach"/> puts it back.</remarks>
public interface ITuningMethod : IDisposable
{
    /// <summary>"full", "lora", "qlora", "prefix", "prompt" or "adapter".</summary>
    string Name { get; }

    /// <summary>The model this method is attached to.</summary>
    LanguageModel Model { get; }

    /// <summary>What the trainer updates: the method's own parameters (the model's for full fine-tuning). Everything
    /// else is frozen — no gradient, no optimizer state, bytes unchanged.</summary>
    IReadOnlyList<ModelParameter> Trainable { get; }

    /// <summary>How many numbers <see cref="Trainable"/> holds (what the logs and benches report as trainable).</summary>
    long TrainableCount
    {
        get { long n = 0; foreach (var p in Trainable) n += p.Value.Length; return n; }
    }

    /// <summary>Rows this method puts before every sequence (prompt tuning's virtual tokens); 0 for the others. A
    /// sequence of T tokens then takes VirtualTokens + T positions of the context.</summary>
    int VirtualTokens { get; }

    /// <summary>The decoder's input embeddings for <paramref name="ids"/> laid out (B, T): (B, VirtualTokens + T, C).
    /// Called once per forward on the active tape, training or not; a method whose trained state is computed (prefix
    /// tuning's reparameterisation MLP) refreshes it here, so gradients reach its parameters. Most methods return
    /// <c>model.Embed(ids, B, T)</c>.</summary>
    Tensor Embed(ReadOnlySpan<int> ids, int B, int T);

    /// <summary>Writes the method's files into <paramref name="dir"/> (created if missing), each atomically.</summary>
    void Save(string dir);

    /// <summary>Reads trained state written by <see cref="Save"/> back into this method's tensors (a resumed run).
    /// Shapes and names must match; a mismatch is a one-line error naming the tensor.</summary>
    void Load(string dir);

    /// <summary>Removes the method from the model: adapter slots cleared, prefixes removed. Idempotent.</summary>
    void Detach();

    /// <summary>Puts the method back on its model after <see cref="Detach"/> (a method is attached when made), so that
    /// several adapters loaded over one base can take turns (Tuning/AdapterSet). Idempotent.</summary>
    /// <exception cref="InvalidOperationException">A slot the method needs holds another method's adapter (nothing changes).</exception>
    void Attach();
}
