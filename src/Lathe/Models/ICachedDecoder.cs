using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>What decoding drives, whatever the architecture: a decoder that advances the sequences of a cache step by
/// step. Decoder-only models (<see cref="CausalLM"/>) and the decoder of an encoder-decoder (<see cref="T5Model"/>,
/// its encoder memory stored in the cache first) both implement it, so one generator, sampler and streamer serve both.</summary>
public interface ICachedDecoder
{
    ModelConfig Config { get; }

    /// <summary>Runs <paramref name="ids"/>, the step's rows as <paramref name="cache"/> scheduled them (several sequences,
    /// each at its own position), appending their keys and values; returns the logits of each sequence's last row
    /// (sequences, V) when <paramref name="lastOnly"/>, else of every row (N, V). Decoding only (under <c>Tape.NoGrad()</c>).</summary>
    Tensor Forward(ReadOnlySpan<int> ids, IKvCache cache, bool lastOnly = true);
}
