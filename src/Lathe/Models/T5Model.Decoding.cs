using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Models;

// Greedy decoding for T5: the encoder runs once; each decoder layer's cross-attention keys and values are projected
// once into a cache the size of the input; self-attention keys and values are appended to a KV cache one token at a
// time, and the relative bias is built for the one new query at its position. The full-recompute path (every step
// re-runs the whole decoder prefix) is kept beside it as the slow, obvious twin the tests compare against.
public sealed partial class T5Model
{
    /// <summary>Greedy continuation: <paramref name="maxNewTokens"/> ids per row (B, maxNewTokens) after
    /// decoder_start_token_id, for encoder inputs (B, Te) with <paramref name="encoderLengths"/> real tokens per row
    /// (empty: all). Rows keep going past EOS (trim at the first eos_token_id). <paramref name="useCache"/> false
    /// recomputes the decoder over the whole prefix at every step instead (the reference). Set
    /// <see cref="LanguageModel.DropoutRng"/> to null first.</summary>
    public int[] GreedyDecode(ReadOnlySpan<int> encoderIds, ReadOnlySpan<int> encoderLengths, int B, int Te, int maxNewTokens, bool useCache = true) =>
        GreedyDecode(encoderIds, encoderLengths, B, Te, maxNewTokens, useCache, null);

    /// <summary>As the public overload; also copies each step's logits into <paramref name="stepLogits"/> (B, steps, V) when given.</summary>
    internal int[] GreedyDecode(ReadOnlySpan<int> encoderIds, ReadOnlySpan<int> encoderLengths, int B, int Te, int maxNewTokens, bool useCache,
        float[]? stepLogits)
    {
        if (encoderIds.Length != B * Te) throw new ArgumentException($"t5: {encoderIds.Length} encoder ids do not fill (B={B}, Te={Te}).");
        if (maxNewTokens <= 0) throw new ArgumentException($"t5: max new tokens {maxNewTokens} must be positive.");
        var output = new int[B * maxNewTokens];
        using var tape = new Tape();
        _stepLogits = stepLogits;
        try
        {
            return useCache ? DecodeCached(tape, encoderIds, encoderLengths.ToArray(), B, Te, maxNewTokens, output)
                : DecodeRecompute(tape, encoderIds, encoderLengths.ToArray(), B, Te, maxNewTokens, output);
        }
        finally { _stepLogits = null; }
    }

    int[] DecodeRecompute(Tape tape, ReadOnlySpan<int> encoderIds, int[] lengths, int B, int Te, int steps, int[] output)
    {
        int V = Config.VocabSize;
        for (int s = 0; s < steps; s++)
        {
            int Td = s + 1;
            var ids = new int[B * Td];
            for (int b = 0; b < B; b++)
            {
                ids[b * Td] = Config.DecoderStartTokenId;
                for (int i = 0; i < s; i++) ids[b * Td + 1 + i] = output[b * steps + i];
            }
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = Logits(encoderIds, lengths, B, Te, ids, Td).AsSpan();   // (B·Td, V)
                for (int b = 0; b < B; b++) output[b * steps + s] = Pick(logits.Slice((b * Td + s) * V, V), b, s, steps);
            }
        }
        return output;
    }

    int[] DecodeCached(Tape tape, ReadOnlySpan<int> encoderIds, int[] lengths, int B, int Te, int steps, int[] output)
    {
        int V = Config.VocabSize, C = Config.Embd;
        // Caches shaped by the decoder: DecoderLayers layers of (B, H, capacity, d_kv).
        using var cross = new StepCache(Config.DecoderLayers, B, Config.Heads, Te, Config.DKv);
        using var self = new StepCache(Config.DecoderLayers, B, Config.Heads, steps, Config.DKv);
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var memory = Encode(encoderIds, lengths, B, Te);   // (B,Te,C)
            for (int l = 0; l < _decoder.Length; l++) _decoder[l].WriteCrossKv(memory, B, Te, cross, l);
            cross.Advance(Te);
        }
        var next = new int[B];
        Array.Fill(next, Config.DecoderStartTokenId);
        for (int s = 0; s < steps; s++)
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                int position = self.Length;
                var y = Ops.Reshape(Ops.Embedding(_shared, next), B, 1, C);            // (B,1,C)
                var bias = _decoderBias.Forward(1, position + 1, offset: position);    // (H,1,position+1)
                for (int l = 0; l < _decoder.Length; l++) y = _decoder[l].Step(this, y, B, bias, self, cross, lengths, l);
                self.Advance(1);
                y = _decoderNorm.Forward(y);
                if (Config.TieEmbeddings) y = Ops.Scale(y, 1f / MathF.Sqrt(C));
                var logits = Ops.Linear(Ops.Reshape(y, B, C), _lmHead).AsSpan();       // (B,V)
                for (int b = 0; b < B; b++) next[b] = output[b * steps + s] = Pick(logits.Slice(b * V, V), b, s, steps);
            }
        }
        return output;
    }

    float[]? _stepLogits;

    int Pick(ReadOnlySpan<float> row, int b, int s, int steps)
    {
        if (_stepLogits is not null) row.CopyTo(_stepLogits.AsSpan((b * steps + s) * row.Length));
        return ArgMax(row);
    }

    static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }

    sealed partial class Attention
    {
        /// <summary>Projects keys and values of <paramref name="kv"/> (B,T,C) into rows [Length, Length+T) of layer <paramref name="layer"/>.</summary>
        public void WriteKv(Tensor kv, int B, int T, StepCache cache, int layer) =>
            cache.Write(layer, Heads(_k.Forward(kv), B, T), Heads(_v.Forward(kv), B, T));

        /// <summary>One new query per row (x (B,1,C)) over the cached keys [0, length) of <paramref name="layer"/> → (B,1,C).</summary>
        public Tensor ForwardCached(Tensor x, int B, StepCache cache, int layer, int length, bool causal, Tensor? bias, ReadOnlySpan<int> keyLengths)
        {
            var q = Heads(_q.Forward(x), B, 1);                     // (B,H,1,D)
            var k = Ops.Narrow(cache.Keys(layer), 2, 0, length);    // (B,H,length,D)
            var v = Ops.Narrow(cache.Values(layer), 2, 0, length);
            var y = Ops.Attention(q, k, v, causal, scale: 1f, bias, keyLengths);
            return _o.Forward(Ops.Reshape(y, B, 1, _H * _D));       // (B,H,1,D) is (B,1,H·D) in memory
        }
    }

    sealed partial class Block
    {
        public void WriteCrossKv(Tensor memory, int B, int Te, StepCache cross, int layer) => _cross!.WriteKv(memory, B, Te, cross, layer);

        /// <summary>One decoding step of a decoder block: x (B,1,C) → (B,1,C); appends this token's self-attention
        /// keys and values to <paramref name="self"/> (advanced by the caller after the last layer).</summary>
        public Tensor Step(T5Model model, Tensor x, int B, Tensor bias, StepCache self, StepCache cross, ReadOnlySpan<int> memoryLengths, int layer)
        {
            int position = self.Length;
            var h = _selfNorm.Forward(x);
            _self.WriteKv(h, B, 1, self, layer);
            x = Ops.Add(x, _self.ForwardCached(h, B, self, layer, position + 1, causal: true, bias, default));
            h = _crossNorm!.Forward(x);
            x = Ops.Add(x, _cross!.ForwardCached(h, B, cross, layer, cross.Length, causal: false, null, memoryLengths));
            return FeedForward(model, x);
        }
    }

    /// <summary>The decoder's keys and values, (B, H, capacity, D) per layer, rows [0, Length) filled — every row at the
    /// same position, as this greedy loop needs. (The decoder-only models decode through the paged cache in Inference;
    /// T5 moving onto it is still to do.)</summary>
    sealed unsafe class StepCache : IDisposable
    {
        readonly Tensor[] _keys, _values;
        readonly int _capacity;

        public int Length { get; private set; }

        public StepCache(int layers, int B, int H, int capacity, int D)
        {
            _capacity = capacity;
            _keys = new Tensor[layers];
            _values = new Tensor[layers];
            for (int l = 0; l < layers; l++) { _keys[l] = Tensor.Zeros(B, H, capacity, D); _values[l] = Tensor.Zeros(B, H, capacity, D); }
        }

        public Tensor Keys(int layer) => _keys[layer];
        public Tensor Values(int layer) => _values[layer];

        /// <summary>Copies new keys and values (B, H, T, D) of a layer into rows [Length, Length + T).</summary>
        public void Write(int layer, Tensor k, Tensor v)
        {
            int BH = k.Dim(0) * k.Dim(1), T = k.Dim(2), D = k.Dim(3);
            if (Length + T > _capacity) throw new InvalidOperationException($"t5: {Length} + {T} tokens exceed the cache of {_capacity}.");
            var ck = Ops.Contiguous(k);
            var cv = Ops.Contiguous(v);
            for (int bh = 0; bh < BH; bh++)
            {
                long src = (long)bh * T * D, dst = ((long)bh * _capacity + Length) * D;
                new ReadOnlySpan<float>(ck.Data + src, T * D).CopyTo(new Span<float>(_keys[layer].Data + dst, T * D));
                new ReadOnlySpan<float>(cv.Data + src, T * D).CopyTo(new Span<float>(_values[layer].Data + dst, T * D));
            }
        }

        /// <summary>Marks <paramref name="tokens"/> more positions filled (after every layer has written them).</summary>
        public void Advance(int tokens) => Length += tokens;

        public void Dispose()
        {
            foreach (var t in _keys) t.Dispose();
            foreach (var t in _values) t.Dispose();
        }
    }
}
