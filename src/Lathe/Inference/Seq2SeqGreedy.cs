using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>Greedy decoding of an encoder-decoder (T5): the encoder runs once; each row becomes a sequence of a
/// <see cref="PagedKvCache"/> whose memory holds its cross-attention keys and values (its real encoder tokens only);
/// then every row advances one token per batched step. The full-recompute path (every step re-runs the decoder over
/// the whole prefix, no cache) is kept beside it as the slow, obvious twin the tests compare against.</summary>
public static class Seq2SeqGreedy
{
    /// <summary>Greedy continuation: <paramref name="maxNewTokens"/> ids per row (B, maxNewTokens) after
    /// decoder_start_token_id, for encoder inputs (B, Te) with <paramref name="encoderLengths"/> real tokens per row
    /// (empty: all). Rows keep going past EOS (trim at the first eos_token_id). <paramref name="useCache"/> false
    /// recomputes the decoder over the whole prefix at every step instead (the reference). <paramref name="stepLogits"/>,
    /// when given, receives each step's logits (B, maxNewTokens, V). Set <see cref="LanguageModel.DropoutRng"/> to null
    /// first.</summary>
    public static int[] Decode(T5Model model, ReadOnlySpan<int> encoderIds, ReadOnlySpan<int> encoderLengths, int B, int Te, int maxNewTokens,
        bool useCache = true, float[]? stepLogits = null)
    {
        var c = model.Config;
        if (encoderIds.Length != B * Te) throw new ArgumentException($"t5: {encoderIds.Length} encoder ids do not fill (B={B}, Te={Te}).");
        if (maxNewTokens <= 0) throw new ArgumentException($"t5: max new tokens {maxNewTokens} must be positive.");
        if (!encoderLengths.IsEmpty && encoderLengths.Length != B) throw new ArgumentException($"t5: {encoderLengths.Length} encoder lengths for {B} rows.");
        foreach (int length in encoderLengths)
            if (length <= 0 || length > Te) throw new ArgumentException($"t5: encoder length {length} is outside 1..{Te}.");
        if (stepLogits is not null && stepLogits.Length < (long)B * maxNewTokens * c.VocabSize)
            throw new ArgumentException($"t5: the step-logit buffer holds {stepLogits.Length} values, fewer than (B={B}, steps={maxNewTokens}, V={c.VocabSize}).");
        var output = new int[B * maxNewTokens];
        using var tape = new Tape();
        if (useCache) Cached(model, tape, encoderIds, encoderLengths, B, Te, maxNewTokens, output, stepLogits);
        else Recompute(model, tape, encoderIds, encoderLengths.ToArray(), B, Te, maxNewTokens, output, stepLogits);
        return output;
    }

    static void Cached(T5Model model, Tape tape, ReadOnlySpan<int> encoderIds, ReadOnlySpan<int> encoderLengths, int B, int Te, int steps,
        int[] output, float[]? stepLogits)
    {
        var c = model.Config;
        int V = c.VocabSize, C = c.Embd, perSequence = (steps + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize;
        using var cache = new PagedKvCache(c.DecoderLayers, c.Heads, c.DKv, steps, B * perSequence);
        cache.EnableMemory(Te, B * ((Te + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize));
        var sequences = new int[B];
        var ones = new int[B];
        Array.Fill(ones, 1);
        tape.Reset();
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            var memory = Ops.Reshape(model.Encode(encoderIds, encoderLengths, B, Te), B * Te, C);   // (B·Te, C)
            for (int b = 0; b < B; b++)
            {
                sequences[b] = cache.AddSequence();
                var rows = Ops.Narrow(memory, 0, b * Te, encoderLengths.IsEmpty ? Te : encoderLengths[b]);   // real tokens only
                for (int l = 0; l < c.DecoderLayers; l++)
                {
                    var (k, v) = model.CrossAttentionMemory(rows, l);
                    cache.StoreMemory(sequences[b], l, k, v);
                }
            }
        }
        var next = new int[B];
        Array.Fill(next, c.DecoderStartTokenId);
        for (int s = 0; s < steps; s++)
        {
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                cache.Schedule(sequences, ones);
                var logits = model.Forward(next, cache).AsSpan();                // (B, V)
                for (int b = 0; b < B; b++) next[b] = output[b * steps + s] = Pick(logits.Slice(b * V, V), b, s, steps, stepLogits);
            }
        }
    }

    static void Recompute(T5Model model, Tape tape, ReadOnlySpan<int> encoderIds, int[] lengths, int B, int Te, int steps, int[] output, float[]? stepLogits)
    {
        int V = model.Config.VocabSize;
        for (int s = 0; s < steps; s++)
        {
            int Td = s + 1;
            var ids = new int[B * Td];
            for (int b = 0; b < B; b++)
            {
                ids[b * Td] = model.Config.DecoderStartTokenId;
                for (int i = 0; i < s; i++) ids[b * Td + 1 + i] = output[b * steps + i];
            }
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
            {
                var logits = model.Logits(encoderIds, lengths, B, Te, ids, Td).AsSpan();   // (B·Td, V)
                for (int b = 0; b < B; b++) output[b * steps + s] = Pick(logits.Slice((b * Td + s) * V, V), b, s, steps, stepLogits);
            }
        }
    }

    static int Pick(ReadOnlySpan<float> row, int b, int s, int steps, float[]? stepLogits)
    {
        if (stepLogits is not null) row.CopyTo(stepLogits.AsSpan((b * steps + s) * row.Length));
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
