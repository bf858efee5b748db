using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Vision.Training;

/// <summary>A batch of captions as a decoder reads them: N rows of L token ids (each caption
/// [end-of-text, w₁ … wₙ, end-of-text], then padding), and each row's real length. The arrays are reused from batch to
/// batch.</summary>
public sealed class CaptionTokenRows
{
    public int Rows { get; private set; }
    /// <summary>Tokens per row (the longest caption of the batch).</summary>
    public int Length { get; private set; }
    /// <summary>(Rows, Length) ids, row-major; padding repeats the end-of-text id.</summary>
    public int[] Ids { get; private set; } = [];
    /// <summary>Each row's real token count (≥ 1).</summary>
    public int[] Lengths { get; private set; } = [];

    /// <summary>Lays out <paramref name="captions"/>[indices[i]] as row i, each already wrapped in end-of-text
    /// (<see cref="Wrap"/>); <paramref name="pad"/> fills the rest of a row.</summary>
    public CaptionTokenRows Fill(IReadOnlyList<int[]> captions, ReadOnlySpan<int> indices, int pad)
    {
        int n = indices.Length, len = 1;
        foreach (int i in indices) len = Math.Max(len, captions[i].Length);
        if (Lengths.Length < n) Lengths = new int[n];
        if (Ids.Length < n * len) Ids = new int[n * len];
        for (int r = 0; r < n; r++)
        {
            var c = captions[indices[r]];
            if (c.Length == 0) throw new ArgumentException($"caption {indices[r]} is empty");
            c.CopyTo(Ids, r * len);
            Ids.AsSpan(r * len + c.Length, len - c.Length).Fill(pad);
            Lengths[r] = c.Length;
        }
        Rows = n; Length = len;
        return this;
    }

    /// <summary>A batch from explicit rows (tests): <paramref name="ids"/> (n, len) and the lengths.</summary>
    public static CaptionTokenRows From(int[] ids, int[] lengths)
    {
        int n = lengths.Length;
        if (n == 0 || ids.Length % n != 0) throw new ArgumentException($"caption batch: {ids.Length} ids for {n} rows");
        int len = ids.Length / n;
        foreach (int l in lengths)
            if (l < 1 || l > len) throw new ArgumentException($"caption batch: length {l} outside 1..{len}");
        return new CaptionTokenRows { Rows = n, Length = len, Ids = ids, Lengths = lengths };
    }

    /// <summary>[eot] + ids + [eot]: what a caption is trained as — the first end-of-text starts the text after the
    /// image, the last one is what generation stops at.</summary>
    public static int[] Wrap(IReadOnlyList<int> ids, int endOfText)
    {
        var r = new int[ids.Count + 2];
        r[0] = endOfText;
        for (int i = 0; i < ids.Count; i++) r[i + 1] = ids[i];
        r[^1] = endOfText;
        return r;
    }
}

/// <summary>The captioning objective: a decoder reads P image tokens and then the caption's token embeddings,
/// [image (P) ; caption (L)] at positions 0 … P+L−1, and is trained by next-token cross-entropy on the caption only — row
/// P+j (caption token j) predicts token j+1 while j+1 is inside the caption; image rows and padding predict nothing.
/// Only the predicting rows go through the lm_head. (The LLaVA recipe, Liu et al. 2023: loss on the answer tokens.)</summary>
public sealed class CaptionObjective
{
    int[] _rows = [], _targets = [];
    readonly Tensor[] _pair = new Tensor[2];

    /// <summary>Mean cross-entropy over the caption tokens. <paramref name="image"/> (N, P, C) from the adapter.</summary>
    public Tensor Loss(CausalLM decoder, Tensor image, CaptionTokenRows batch)
    {
        int N = batch.Rows, L = batch.Length, P = image.Dim(1), C = decoder.Config.Embd, T = P + L;
        if (image.Rank != 3 || image.Dim(0) != N || image.Dim(2) != C)
            throw new ArgumentException($"captioning: image tokens {Tensor.ShapeString(image.Shape)} must be ({N}, P, {C})");
        if (T > decoder.Config.MaxPositions)
            throw new ArgumentException($"captioning: {P} image tokens + {L} caption tokens exceed the decoder's context of {decoder.Config.MaxPositions}");
        int count = 0;
        for (int i = 0; i < N; i++) count += batch.Lengths[i] - 1;
        if (_rows.Length < count) { _rows = new int[count]; _targets = new int[count]; }
        int k = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j + 1 < batch.Lengths[i]; j++, k++)
            {
                _rows[k] = i * T + P + j;                       // the row of caption token j in (N·T)
                _targets[k] = batch.Ids[i * L + j + 1];
            }
        _pair[0] = image;                                                   // (N,P,C)
        _pair[1] = decoder.Embed(batch.Ids.AsSpan(0, N * L), N, L);         // (N,L,C)
        var x = Ops.Concat(_pair, 1);                                       // (N,T,C)
        Array.Clear(_pair);
        var hidden = decoder.Hidden(x, N, T);                               // (N·T, C)
        var logits = decoder.Head(Ops.GatherRows(hidden, _rows.AsSpan(0, count)));   // (count, V)
        return Ops.CrossEntropy(logits, _targets.AsSpan(0, count));
    }
}
