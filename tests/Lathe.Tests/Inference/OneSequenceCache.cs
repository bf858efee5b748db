using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tests.Inference;

/// <summary>A paged KV cache holding one sequence: what the single-sequence decoding tests step through.</summary>
internal sealed class OneSequenceCache : IDisposable
{
    public PagedKvCache Cache { get; }
    public int Sequence { get; }

    public OneSequenceCache(ModelConfig config, int? blocks = null, int blockSize = PagedKvCache.DefaultBlockSize)
    {
        Cache = new PagedKvCache(config, blocks, blockSize);
        Sequence = Cache.AddSequence();
    }

    public int Length => Cache.Length(Sequence);

    /// <summary>Logits (T, V) of every new token.</summary>
    public Tensor Logits(CausalLM model, ReadOnlySpan<int> ids) => Cache.Forward(model, ids, Sequence, lastOnly: false);

    /// <summary>Logits (1, V) of the last new token.</summary>
    public Tensor LastLogits(CausalLM model, ReadOnlySpan<int> ids) => Cache.Forward(model, ids, Sequence);

    public void Dispose() => Cache.Dispose();
}
