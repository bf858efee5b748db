namespace Lathe.Tensors;

/// <summary>Walks the output of a broadcast binary op in row-major order, tracking for each element the
/// offset of the a and b elements it reads — in memory (strided, 0 on broadcast axes) and in their
/// contiguous gradients (likewise). Up to 8 axes.</summary>
internal unsafe struct BroadcastWalker
{
    public const int MaxRank = 8;
    fixed int _shape[MaxRank];
    fixed int _aStride[MaxRank];
    fixed int _bStride[MaxRank];
    fixed int _aGradStride[MaxRank];
    fixed int _bGradStride[MaxRank];
    public int Rank;

    /// <summary>Computes the broadcast shape of a and b into <paramref name="outShape"/> (length max rank).</summary>
    public static int BroadcastShape(string op, Tensor a, Tensor b, Span<int> outShape)
    {
        int rank = Math.Max(a.Rank, b.Rank);
        if (rank > MaxRank) throw new ArgumentException($"{op}: rank {rank} exceeds {MaxRank}.");
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Rank) >= 0 ? a.Shape[i - (rank - a.Rank)] : 1;
            int db = i - (rank - b.Rank) >= 0 ? b.Shape[i - (rank - b.Rank)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"{op}: shapes {Tensor.ShapeString(a.Shape)} and {Tensor.ShapeString(b.Shape)} do not broadcast (axis {i}: {da} vs {db}).");
            outShape[i] = da == 1 ? db : da;
        }
        return rank;
    }

    public BroadcastWalker(ReadOnlySpan<int> outShape, Tensor a, Tensor b)
    {
        Rank = outShape.Length;
        Span<int> aGrad = stackalloc int[Math.Max(a.Rank, 1)];
        Span<int> bGrad = stackalloc int[Math.Max(b.Rank, 1)];
        Ops.ContiguousStrides(a.Shape, aGrad);
        Ops.ContiguousStrides(b.Shape, bGrad);
        for (int i = 0; i < Rank; i++)
        {
            _shape[i] = outShape[i];
            int ia = i - (Rank - a.Rank), ib = i - (Rank - b.Rank);
            bool aBroadcast = ia < 0 || a.Shape[ia] == 1;
            bool bBroadcast = ib < 0 || b.Shape[ib] == 1;
            _aStride[i] = aBroadcast ? 0 : a.Strides[ia];
            _bStride[i] = bBroadcast ? 0 : b.Strides[ib];
            _aGradStride[i] = aBroadcast ? 0 : aGrad[ia];
            _bGradStride[i] = bBroadcast ? 0 : bGrad[ib];
        }
    }

    public int Dim(int i) => _shape[i];
    public int AStride(int i) => _aStride[i];
    public int BStride(int i) => _bStride[i];
    public int AGradStride(int i) => _aGradStride[i];
    public int BGradStride(int i) => _bGradStride[i];

    /// <summary>Advances the multi-index over all but the last axis; updates the four offsets.</summary>
    public void NextRow(Span<int> index, ref long aOff, ref long bOff, ref long aGrad, ref long bGrad)
    {
        for (int d = Rank - 2; d >= 0; d--)
        {
            index[d]++;
            aOff += _aStride[d]; bOff += _bStride[d]; aGrad += _aGradStride[d]; bGrad += _bGradStride[d];
            if (index[d] < _shape[d]) return;
            aOff -= (long)_aStride[d] * _shape[d]; bOff -= (long)_bStride[d] * _shape[d];
            aGrad -= (long)_aGradStride[d] * _shape[d]; bGrad -= (long)_bGradStride[d] * _shape[d];
            index[d] = 0;
        }
    }
}
