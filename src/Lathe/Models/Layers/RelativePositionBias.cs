using Lathe.Tensors;

namespace Lathe.Models;

/// <summary>T5's relative position bias (Raffel et al. 2020, §2.1; Shaw et al. 2018): the key-minus-query
/// distance is put in one of <c>buckets</c> buckets — exact for small distances, logarithmic up to
/// <c>maxDistance</c>, one shared bucket beyond — and each head learns a scalar per bucket. The bias
/// (H, Tq, Tk) is added to the attention logits of every layer of a stack; the table lives in block 0.</summary>
internal sealed class RelativePositionBias
{
    readonly Tensor _table;   // (buckets, H)
    readonly bool _bidirectional;
    readonly int _buckets, _maxDistance, _heads;
    int[] _ids = [];
    int _tq = -1, _tk = -1, _offset = -1;

    public RelativePositionBias(Tensor table, bool bidirectional, int maxDistance)
    {
        _table = table;
        _bidirectional = bidirectional;
        _buckets = table.Dim(0);
        _heads = table.Dim(1);
        _maxDistance = maxDistance;
    }

    /// <summary>The bucket of relative position <paramref name="relative"/> = key position − query position.
    /// Bidirectional (encoder): half the buckets for keys after the query. Unidirectional (decoder): only keys at
    /// or before the query are distinguished; later ones share bucket 0 (the causal mask hides them anyway).
    /// Within a half, distances below half of it are exact; the rest are spaced by log(distance) up to
    /// <paramref name="maxDistance"/>; the log is taken in float32, as the reference does.</summary>
    public static int Bucket(int relative, bool bidirectional, int buckets, int maxDistance)
    {
        int bucket = 0, n;
        if (bidirectional)
        {
            buckets /= 2;
            if (relative > 0) bucket = buckets;
            n = Math.Abs(relative);
        }
        else n = Math.Max(-relative, 0);
        int maxExact = buckets / 2;
        if (n < maxExact) return bucket + n;
        // As the reference: log of the float32 ratio, over log(maxDistance/maxExact) taken in double and rounded to float.
        float scaled = MathF.Log((float)n / maxExact) / (float)Math.Log((double)maxDistance / maxExact) * (buckets - maxExact);
        return bucket + Math.Min(maxExact + (int)scaled, buckets - 1);
    }

    /// <summary>The unidirectional bias by distance (H, L): [h, d] is the bias of a key d positions before the query —
    /// what cached decoding adds (the same lookup as <see cref="Forward"/>'s entry for key j = query − d). On the active
    /// tape.</summary>
    public Tensor ByDistance(int L)
    {
        if (_distanceIds.Length != L)
        {
            _distanceIds = new int[L];
            for (int d = 0; d < L; d++) _distanceIds[d] = Bucket(-d, _bidirectional, _buckets, _maxDistance);
        }
        var rows = Ops.Embedding(_table, _distanceIds);                   // (L, H)
        return Ops.Contiguous(Ops.Transpose(rows, 0, 1));                 // (H, L)
    }

    int[] _distanceIds = [];

    /// <summary>The bias (H, Tq, Tk) for <paramref name="tq"/> queries at positions offset..offset+Tq−1 over
    /// <paramref name="tk"/> keys at 0..Tk−1, on the active tape (its gradient reaches the table through the
    /// embedding lookup's scatter-add).</summary>
    public Tensor Forward(int tq, int tk, int offset = 0)
    {
        if (tq != _tq || tk != _tk || offset != _offset)
        {
            if (_ids.Length != tq * tk) _ids = new int[tq * tk];
            for (int i = 0; i < tq; i++)
                for (int j = 0; j < tk; j++)
                    _ids[i * tk + j] = Bucket(j - (i + offset), _bidirectional, _buckets, _maxDistance);
            (_tq, _tk, _offset) = (tq, tk, offset);
        }
        var rows = Ops.Embedding(_table, _ids);                           // (Tq·Tk, H)
        return Ops.Contiguous(Ops.Permute(Ops.Reshape(rows, tq, tk, _heads), 2, 0, 1));   // (H, Tq, Tk)
    }
}
