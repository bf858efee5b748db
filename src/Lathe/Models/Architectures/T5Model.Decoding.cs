using Lathe.Tensors;

namespace Lathe.Models;

// T5's decoder through the cache seam the decoder-only models use (IKvCache): self-attention keys and values are
// appended to the cache a step at a time with the relative bias looked up by query-to-key distance; each sequence's
// cross-attention keys and values are projected once from its encoder output and stored as the cache's memory. The
// greedy loop itself lives in Inference (Seq2SeqGreedy), beside its full-recompute twin.
public sealed partial class T5Model
{
    /// <summary>Cross-attention keys and values (Te, H·d_kv) each of decoder layer <paramref name="layer"/> for one
    /// sequence's encoder output <paramref name="memory"/> (Te, C): what a cache stores once as the sequence's memory.</summary>
    public (Tensor Keys, Tensor Values) CrossAttentionMemory(Tensor memory, int layer)
    {
        if ((uint)layer >= (uint)_decoder.Length) throw new ArgumentException($"t5: decoder layer {layer} of {_decoder.Length}.");
        return _decoder[layer].CrossKeysValues(memory);
    }

    /// <summary>One cached decoder step: <paramref name="ids"/> are the step's rows as the <paramref name="cache"/> laid
    /// them out (several sequences, each with its memory stored); returns the logits of each sequence's last row
    /// (sequences, V), or of every row when <paramref name="lastOnly"/> is false. Decoding only (call under
    /// <c>Tape.NoGrad()</c>).</summary>
    public Tensor Forward(ReadOnlySpan<int> ids, IKvCache cache, bool lastOnly = true)
    {
        int C = Config.Embd;
        if (ids.Length != cache.Rows || ids.Length == 0)
            throw new ArgumentException($"t5: {ids.Length} ids for a cache step of {cache.Rows} rows.");
        int longest = 0;
        foreach (int p in cache.Positions) longest = Math.Max(longest, p + 1);
        var bias = _decoderBias.ByDistance(longest);                              // (H, longest)
        var y = Ops.Embedding(_shared, ids);                                      // (N,C)
        for (int l = 0; l < _decoder.Length; l++) y = _decoder[l].Step(this, y, bias, cache, l);
        if (lastOnly) y = Ops.Embedding(y, cache.LastRows);                       // (sequences, C)
        cache.Commit();
        y = _decoderNorm.Forward(y);
        if (Config.TieEmbeddings) y = Ops.Scale(y, 1f / MathF.Sqrt(C));
        return Ops.Linear(y, _lmHead);                                            // (sequences or N, V)
    }

    sealed partial class Attention
    {
        /// <summary>Keys and values (Tk, H·D) of <paramref name="kv"/> (Tk, C).</summary>
        public (Tensor, Tensor) KeysValues(Tensor kv) => (_k.Forward(kv), _v.Forward(kv));

        /// <summary>Self-attention of the step's rows x (N,C) through the cache → (N,C); T5 scales by 1.</summary>
        public Tensor ForwardCached(Tensor x, IKvCache cache, int layer, Tensor bias) =>
            _o.Forward(cache.Attend(layer, _q.Forward(x), _k.Forward(x), _v.Forward(x), _H, bias, scale: 1f));

        /// <summary>Cross-attention of x (N,C) over each row's stored memory → (N,C).</summary>
        public Tensor ForwardMemory(Tensor x, IKvCache cache, int layer) =>
            _o.Forward(cache.AttendMemory(layer, _q.Forward(x), _H, scale: 1f));
    }

    sealed partial class Block
    {
        public (Tensor, Tensor) CrossKeysValues(Tensor memory) => _cross!.KeysValues(memory);

        /// <summary>One decoding step of a decoder block: x (N,C) → (N,C).</summary>
        public Tensor Step(T5Model model, Tensor x, Tensor bias, IKvCache cache, int layer)
        {
            x = Ops.Add(x, _self.ForwardCached(_selfNorm.Forward(x), cache, layer, bias));
            x = Ops.Add(x, _cross!.ForwardMemory(_crossNorm!.Forward(x), cache, layer));
            return FeedForward(model, x);
        }
    }
}
