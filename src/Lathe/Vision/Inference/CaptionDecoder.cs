using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Vision.Inference;

/// <summary>Caption generation for a batch of images through the decoder's KV cache: one batched prefill of every
/// image's [image tokens ; end-of-text] rows (the cached forward from embeddings), then one row per unfinished caption
/// per step (the cached forward from ids), greedy or sampled, until each caption draws end-of-text or reaches the token
/// limit. Each image has its own sampler seeded from <see cref="SamplingOptions.Seed"/> + its index, so a caption does
/// not depend on which other images share its batch's sampling draws.</summary>
public static class CaptionDecoder
{
    /// <summary>Token ids (end-of-text excluded) of a caption for each of the <paramref name="image"/> rows (N, P, C).</summary>
    public static List<int>[] Generate(CausalLM decoder, Tensor image, int endOfText, int maxTokens, SamplingOptions options)
    {
        var c = decoder.Config;
        int N = image.Dim(0), P = image.Dim(1), C = c.Embd;
        if (image.Rank != 3 || image.Dim(2) != C) throw new ArgumentException($"captioning: image tokens {Tensor.ShapeString(image.Shape)} must be (N, P, {C})");
        if (maxTokens < 1) throw new ArgumentException($"--max-tokens {maxTokens} must be positive");
        maxTokens = Math.Min(maxTokens, c.MaxPositions - P - 1);   // the context holds P + 1 + generated tokens
        if (maxTokens < 1) throw new ArgumentException($"captioning: {P} image tokens fill the decoder's context of {c.MaxPositions}");
        int length = P + 1 + maxTokens, perSequence = (length + PagedKvCache.DefaultBlockSize - 1) / PagedKvCache.DefaultBlockSize;
        using var cache = new PagedKvCache(c.Layers, c.KvHeads, c.HeadDim, length, N * perSequence);
        using var tape = new Tape();
        var captions = new List<int>[N];
        var samplers = new SamplerChain[N];
        int[] sequences = new int[N], counts = new int[N], ids = new int[N], active = new int[N];
        for (int i = 0; i < N; i++)
        {
            captions[i] = [];
            samplers[i] = new SamplerChain(options with { Seed = options.Seed + (ulong)i });
            sequences[i] = cache.AddSequence();
            counts[i] = P + 1;
            ids[i] = endOfText;
        }
        var logits = new float[N * c.VocabSize];
        using (tape.Activate())
        using (Tape.NoGrad())
        {
            cache.Schedule(sequences, counts);
            var start = Ops.Concat([image, decoder.Embed(ids, N, 1)], 1);        // (N, P+1, C)
            Ops.Contiguous(decoder.Forward(start, cache)).AsSpan().CopyTo(logits);   // (N, V)
        }
        int alive = N;
        for (int i = 0; i < N; i++) active[i] = i;
        for (int step = 0; alive > 0; step++)
        {
            int kept = 0;
            for (int a = 0; a < alive; a++)
            {
                int i = active[a];
                int next = samplers[i].Sample(logits.AsSpan(a * c.VocabSize, c.VocabSize), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(captions[i]));
                if (next == endOfText) continue;
                captions[i].Add(next);
                if (captions[i].Count >= maxTokens) continue;
                active[kept] = i;
                sequences[kept] = i;        // sequence ids are the image indices (added in order)
                ids[kept] = next;
                counts[kept] = 1;
                kept++;
            }
            alive = kept;
            if (alive == 0) break;
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                Ops.Contiguous(cache.Forward(decoder, ids.AsSpan(0, alive), sequences.AsSpan(0, alive), counts.AsSpan(0, alive))).AsSpan().CopyTo(logits);
        }
        return captions;
    }
}
