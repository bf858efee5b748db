using Lathe.Tensors;

namespace Lathe.Training.Objectives;

/// <summary>T5's span-corruption objective (Raffel et al. 2020, §3.1.4): in a row of L tokens,
/// round(L·0.15) tokens (at least 1, at most L−1) are noise, split into round(noise / 3) spans (at least 1).
/// Noise and non-noise tokens are each cut into that many non-empty runs at uniformly random places, and the
/// runs alternate, non-noise first (so the first token is never noise and the last always is, as in T5). The encoder sees the row with each noise span replaced by one sentinel,
/// then EOS; the decoder predicts each sentinel followed by the span it hid, then EOS, from that sequence
/// shifted right behind decoder_start_token_id. Sentinels count down from the top of the vocabulary, as T5's
/// <c>&lt;extra_id_N&gt;</c> do: sentinel N = vocab_size − 1 − N — so a tokenizer's own ids must stay below
/// vocab_size − spans (checked; `pretrain` adds the sentinels to the data folder's tokenizer at exactly these ids,
/// see Training/PretrainSetup). Because L fixes the counts, every row of a batch yields the same lengths.
/// All random choices come from a <see cref="SeededDraws"/> (Philox-4x32-10) seeded by the caller (the micro-batch seed).</summary>
internal sealed class SpanCorruption
{
    public const float NoiseDensity = 0.15f;
    public const float MeanSpanLength = 3f;

    /// <summary>Row length L.</summary>
    public int Length { get; }
    /// <summary>Noise tokens per row.</summary>
    public int NoiseTokens { get; }
    /// <summary>Noise spans per row (= sentinels used).</summary>
    public int Spans { get; }
    /// <summary>Encoder input length: non-noise tokens + one sentinel per span + EOS.</summary>
    public int EncoderLength => Length - NoiseTokens + Spans + 1;
    /// <summary>Decoder length: one sentinel per span + noise tokens + EOS.</summary>
    public int DecoderLength => NoiseTokens + Spans + 1;

    readonly int _vocab, _eos, _start;
    readonly bool[] _noise;

    public SpanCorruption(int length, int vocabSize, int eosTokenId, int decoderStartTokenId)
    {
        if (length < 2) throw new ArgumentException($"span corruption: a row of {length} tokens is too short (needs ≥ 2).");
        Length = length;
        NoiseTokens = Math.Clamp((int)MathF.Round(length * NoiseDensity, MidpointRounding.ToEven), 1, length - 1);
        Spans = Math.Max(1, (int)MathF.Round(NoiseTokens / MeanSpanLength, MidpointRounding.ToEven));
        _vocab = vocabSize;
        _eos = eosTokenId;
        _start = decoderStartTokenId;
        _noise = new bool[length];
    }

    /// <summary>Sentinel N's id (&lt;extra_id_N&gt;).</summary>
    public int Sentinel(int n) => _vocab - 1 - n;

    /// <summary>Draws the noise mask of one row: Spans non-noise runs and Spans noise runs, alternating.</summary>
    public ReadOnlySpan<bool> DrawMask(ref SeededDraws rng)
    {
        int nonNoise = Length - NoiseTokens;
        // Two independent random segmentations, interleaved: the k-th non-noise run, then the k-th noise run.
        var noiseCuts = new SegmentCursor(NoiseTokens, Spans);
        var plainCuts = new SegmentCursor(nonNoise, Spans);
        int pos = 0;
        for (int s = 0; s < Spans; s++)
        {
            int plain = plainCuts.Next(ref rng), noise = noiseCuts.Next(ref rng);
            for (int i = 0; i < plain; i++) _noise[pos++] = false;
            for (int i = 0; i < noise; i++) _noise[pos++] = true;
        }
        return _noise;
    }

    /// <summary>Corrupts <paramref name="row"/> (L tokens) into encoder input (EncoderLength), decoder input and
    /// decoder targets (DecoderLength each).</summary>
    public void Apply(ReadOnlySpan<int> row, ref SeededDraws rng, Span<int> encoder, Span<int> decoderInput, Span<int> targets)
    {
        int limit = _vocab - Spans;
        for (int i = 0; i < row.Length; i++)
            if (row[i] >= limit)
                throw new InvalidDataException($"t5: token id {row[i]} collides with the sentinel ids {limit}..{_vocab - 1} (<extra_id_N> = vocab_size-1-N); " +
                    $"vocab_size must exceed the tokenizer's largest id by at least {Spans}");
        var mask = DrawMask(ref rng);
        int e = 0, d = 0, span = -1;
        for (int i = 0; i < row.Length; i++)
        {
            if (!mask[i]) { encoder[e++] = row[i]; continue; }
            if (i == 0 || !mask[i - 1])
            {
                span++;
                encoder[e++] = Sentinel(span);
                targets[d++] = Sentinel(span);
            }
            targets[d++] = row[i];
        }
        encoder[e++] = _eos;
        targets[d++] = _eos;
        decoderInput[0] = _start;
        targets[..(d - 1)].CopyTo(decoderInput[1..]);
    }

    /// <summary>Cuts n items into k non-empty runs with the k − 1 cut points a uniform subset of the n − 1 gaps
    /// (selection sampling, Knuth's Algorithm S), yielding run lengths one at a time without a buffer.</summary>
    struct SegmentCursor(int n, int k)
    {
        int _gap = 1, _need = k - 1, _run;

        public int Next(ref SeededDraws rng)
        {
            // Walk gaps 1..n−1; each is a cut with probability need / remaining, which picks a uniform subset.
            _run = 1;
            while (_gap < n)
            {
                int remaining = n - _gap;
                bool cut = _need > 0 && rng.NextInt(remaining) < _need;
                _gap++;
                if (cut) { _need--; return _run; }
                _run++;
            }
            return _run;
        }
    }
}

/// <summary>A stack-allocated Philox-4x32-10 stream (the same bits as <see cref="Philox"/> with this seed), so a
/// training step draws its corruption without allocating a generator.</summary>
internal struct SeededDraws(ulong seed)
{
    readonly ulong _key = seed;
    ulong _counter;
    uint _b0, _b1, _b2, _b3;
    int _used = 4;

    public uint NextUInt()
    {
        if (_used == 4) { Philox.Block(_key, _counter++, out _b0, out _b1, out _b2, out _b3); _used = 0; }
        return _used++ switch { 0 => _b0, 1 => _b1, 2 => _b2, _ => _b3 };
    }

    /// <summary>Uniform in [0, n) by multiply-shift with rejection of the biased low range (as <see cref="Philox.NextInt"/>).</summary>
    public int NextInt(int n)
    {
        ulong m = (ulong)NextUInt() * (uint)n;
        if ((uint)m < (uint)n)
        {
            uint threshold = (uint)(-n) % (uint)n;
            while ((uint)m < threshold) m = (ulong)NextUInt() * (uint)n;
        }
        return (int)(m >> 32);
    }
}
