using Lathe.Tokenizers;

namespace Lathe.Vision.Data;

/// <summary>Captions encoded once with <see cref="CaptionTokenizer"/>: each a row of up to <see cref="Context"/> ids
/// ending in end-of-text, so training and evaluation copy batches out without tokenizing again.</summary>
public sealed class CaptionBatch
{
    readonly int[] _ids;       // (M, Context), padded with end-of-text
    readonly int[] _lengths;   // (M): ids up to and including the first end-of-text

    public int Count => _lengths.Length;
    public int Context { get; }

    CaptionBatch(int[] ids, int[] lengths, int context) { _ids = ids; _lengths = lengths; Context = context; }

    /// <summary>Encodes <paramref name="texts"/> for a text tower of <paramref name="context"/> positions; a caption
    /// that does not fit is an error naming it.</summary>
    public static CaptionBatch Encode(Tokenizer tokenizer, IReadOnlyList<string> texts, int context)
    {
        var ids = new int[texts.Count * context];
        var lengths = new int[texts.Count];
        for (int i = 0; i < texts.Count; i++) lengths[i] = CaptionTokenizer.Encode(tokenizer, texts[i], ids.AsSpan(i * context, context));
        return new CaptionBatch(ids, lengths, context);
    }

    /// <summary>Copies captions start..start+n−1 into <paramref name="ids"/> as n rows of T ids, T the longest of them,
    /// and their lengths into <paramref name="lengths"/>; returns T.</summary>
    public int Fill(int start, int n, Span<int> ids, Span<int> lengths)
    {
        int T = 0;
        for (int i = 0; i < n; i++) T = Math.Max(T, _lengths[start + i]);
        for (int i = 0; i < n; i++)
        {
            _ids.AsSpan((start + i) * Context, T).CopyTo(ids.Slice(i * T, T));
            lengths[i] = _lengths[start + i];
        }
        return T;
    }

    /// <summary>Copies the captions at <paramref name="indices"/> the same way; returns T.</summary>
    public int Fill(ReadOnlySpan<int> indices, Span<int> ids, Span<int> lengths)
    {
        int T = 0;
        foreach (int k in indices) T = Math.Max(T, _lengths[k]);
        for (int i = 0; i < indices.Length; i++)
        {
            _ids.AsSpan(indices[i] * Context, T).CopyTo(ids.Slice(i * T, T));
            lengths[i] = _lengths[indices[i]];
        }
        return T;
    }
}
