using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Inference;

/// <summary>How the hidden states of an input's tokens become one vector (sentence-transformers' Pooling modes).</summary>
public enum EmbeddingPooling
{
    /// <summary>The mean over the input's tokens (sentence-transformers' pooling_mode_mean_tokens; the default).</summary>
    Mean,
    /// <summary>The first token's state ([CLS] for BERT; pooling_mode_cls_token).</summary>
    Cls,
    /// <summary>The last token's state, the one a decoder has read the whole input by (pooling_mode_lasttoken).</summary>
    LastToken,
    /// <summary>The per-dimension maximum over the tokens (pooling_mode_max_tokens).</summary>
    Max,
    /// <summary>The mean with token t weighted t + 1, later tokens having seen more of a decoder's input
    /// (pooling_mode_weightedmean_tokens).</summary>
    WeightedMean,
}

/// <summary>Embeddings: an input's final hidden states pooled into one vector and L2-normalised, as a
/// sentence-transformers model with a Normalize module computes them. A decoder's states are
/// <c>Hidden(Embed(ids))</c>, after the final norm (Hugging Face's last_hidden_state); BERT's are the encoder's output
/// (before the pooler). Runs without recording gradients; the model should be in evaluation mode
/// (<see cref="LanguageModel.DropoutRng"/> null, as serving holds it), or its dropout sites would draw masks.</summary>
public static class Embedder
{
    // Tokens one forward holds (B·T, padding included). Kept within the rows whose products are batch-invariant, so an
    // input's vector has the same bits alone and in any list (an input longer than this runs alone either way).
    const int TokensPerBatch = Lathe.Tensors.Ops.BatchInvariantRows;

    /// <summary>Whether <paramref name="model"/> can embed: a decoder (<see cref="CausalLM"/>) or a BERT encoder.</summary>
    public static bool Supports(LanguageModel model) => model is CausalLM or BertModel or BertClassifier or BertEncoderModel;

    /// <summary>One L2-normalised vector (C floats) per input, in the inputs' order. Inputs of different lengths are
    /// sorted by length and run in right-padded batches — padding that no real token sees (a decoder's causal mask, BERT's
    /// key-length mask) — so each vector is what its input gives alone, up to float rounding.</summary>
    /// <exception cref="ArgumentException">An input is empty, longer than the model's context, or holds an id outside the
    /// vocabulary (the message names the input's index).</exception>
    /// <exception cref="NotSupportedException">The model is neither a decoder nor BERT (see <see cref="Supports"/>).</exception>
    public static float[][] Embed(LanguageModel model, IReadOnlyList<int[]> inputs, EmbeddingPooling pooling = EmbeddingPooling.Mean)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputs);
        if (!Supports(model))
            throw new NotSupportedException($"embeddings: model_type '{model.Config.ModelType}' cannot embed (a decoder or BERT can).");
        Validate(model.Config, inputs);
        int n = inputs.Count, C = model.Config.Embd;
        var result = new float[n][];
        if (n == 0) return result;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => inputs[a].Length != inputs[b].Length ? inputs[a].Length.CompareTo(inputs[b].Length) : a.CompareTo(b));
        var pooled = new double[C];
        using var tape = new Tape();   // the batches' arena: reset after each, freed at the end
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            for (int start = 0; start < n;)
            {
                // Sorted ascending, so the batch's last input is its longest: grow while B·T stays in the budget.
                int end = start + 1;
                while (end < n && (end - start + 1) * inputs[order[end]].Length <= TokensPerBatch) end++;
                int B = end - start, T = inputs[order[end - 1]].Length;
                var ids = new int[B * T];
                var lengths = new int[B];
                int pad = model is CausalLM ? 0 : model.Config.PadId;
                for (int b = 0; b < B; b++)
                {
                    var input = inputs[order[start + b]];
                    lengths[b] = input.Length;
                    input.CopyTo(ids, b * T);
                    ids.AsSpan(b * T + input.Length, T - input.Length).Fill(pad);
                }
                var hidden = Hidden(model, ids, lengths, B, T).AsSpan();   // (B·T, C)
                for (int b = 0; b < B; b++)
                    result[order[start + b]] = Normalize(Pool(hidden.Slice(b * T * C, T * C), lengths[b], C, pooling, pooled));
                tape.Reset();
                start = end;
            }
        }
        return result;
    }

    /// <summary>The pooling <paramref name="model"/> states as its convention (a sentence-transformers folder's
    /// <c>1_Pooling/config.json</c>, a GGUF file's <c>&lt;arch&gt;.pooling_type</c>); <see cref="EmbeddingPooling.Mean"/>
    /// when it states none.</summary>
    /// <exception cref="InvalidDataException">The stated convention is malformed or one Lathe does not compute.</exception>
    public static EmbeddingPooling PoolingFor(LoadedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return EmbeddingPoolingConvention.Read(model.Source, model.Format) ?? EmbeddingPooling.Mean;
    }

    static void Validate(ModelConfig config, IReadOnlyList<int[]> inputs)
    {
        for (int i = 0; i < inputs.Count; i++)
        {
            var input = inputs[i] ?? throw new ArgumentException($"input {i}: null (expected token ids).");
            if (input.Length == 0) throw new ArgumentException($"input {i}: empty (an embedding needs at least one token).");
            if (input.Length > config.MaxPositions)
                throw new ArgumentException($"input {i}: {input.Length} tokens exceed the model's context of {config.MaxPositions}.");
            foreach (int id in input)
                if ((uint)id >= (uint)config.VocabSize)
                    throw new ArgumentException($"input {i}: token id {id} is outside the vocabulary of {config.VocabSize}.");
        }
    }

    // The final hidden states (B·T, C) of right-padded rows.
    static Tensor Hidden(LanguageModel model, int[] ids, int[] lengths, int B, int T) => model switch
    {
        CausalLM decoder => decoder.Hidden(decoder.Embed(ids, B, T), B, T),   // causal: a real token never sees the padding after it
        BertModel bert => bert.Encode(ids, new int[B * T], lengths, B, T),
        BertClassifier classifier => classifier.Encode(ids, new int[B * T], lengths, B, T),
        BertEncoderModel encoder => encoder.Encode(ids, new int[B * T], lengths, B, T),
        _ => throw new NotSupportedException($"embeddings: model_type '{model.Config.ModelType}' cannot embed."),
    };

    // One row's states h (T, C) of which the first `length` are real → the pooled vector, accumulated in double.
    static double[] Pool(ReadOnlySpan<float> h, int length, int C, EmbeddingPooling pooling, double[] v)
    {
        Array.Clear(v);
        switch (pooling)
        {
            case EmbeddingPooling.Cls:
            case EmbeddingPooling.LastToken:
                var row = h.Slice((pooling == EmbeddingPooling.Cls ? 0 : length - 1) * C, C);
                for (int c = 0; c < C; c++) v[c] = row[c];
                break;
            case EmbeddingPooling.Max:
                v.AsSpan().Fill(double.NegativeInfinity);
                for (int t = 0; t < length; t++)
                    for (int c = 0; c < C; c++) v[c] = Math.Max(v[c], h[t * C + c]);
                break;
            case EmbeddingPooling.Mean:
            case EmbeddingPooling.WeightedMean:
                double total = 0;
                for (int t = 0; t < length; t++)
                {
                    double w = pooling == EmbeddingPooling.Mean ? 1 : t + 1;
                    total += w;
                    for (int c = 0; c < C; c++) v[c] += w * h[t * C + c];
                }
                for (int c = 0; c < C; c++) v[c] /= total;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(pooling), pooling, "embeddings: unknown pooling.");
        }
        return v;
    }

    // v / max(‖v‖₂, 1e-12), PyTorch's F.normalize, as sentence-transformers' Normalize module applies it.
    static float[] Normalize(double[] v)
    {
        double sum = 0;
        foreach (double x in v) sum += x * x;
        double scale = 1 / Math.Max(Math.Sqrt(sum), 1e-12);
        var result = new float[v.Length];
        for (int c = 0; c < v.Length; c++) result[c] = (float)(v[c] * scale);
        return result;
    }
}
