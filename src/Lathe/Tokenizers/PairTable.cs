using System.Runtime.CompilerServices;

namespace Lathe.Tokenizers;

/// <summary>An open-addressing hash table from a token pair to (merge rank, merged id): the hot lookup of BPE encoding.
/// Keys are mixed with a Fibonacci multiply (Dictionary's hash of a long, hi ^ lo, collides for every pair with the
/// same left ^ right), probed linearly in a power-of-two table kept at most half full.</summary>
internal sealed class PairTable
{
    readonly long[] _keys;
    readonly long[] _values;
    readonly int _shift;
    const long Empty = -1;

    public PairTable(int count)
    {
        int bits = 4;
        while ((1 << bits) < count * 2) bits++;
        _keys = new long[1 << bits];
        _values = new long[1 << bits];
        Array.Fill(_keys, Empty);
        _shift = 64 - bits;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static long Key(int left, int right) => ((long)left << 32) | (uint)right;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    int Slot(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> _shift);

    /// <summary>Adds a pair unless present (the first, lowest-rank entry wins).</summary>
    public void TryAdd(int left, int right, int rank, int merged)
    {
        long key = Key(left, right);
        int mask = _keys.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            if (_keys[i] == key) return;
            if (_keys[i] == Empty) { _keys[i] = key; _values[i] = ((long)rank << 32) | (uint)merged; return; }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(int left, int right, out int rank, out int merged)
    {
        long key = Key(left, right);
        int mask = _keys.Length - 1;
        for (int i = Slot(key); ; i = (i + 1) & mask)
        {
            long k = _keys[i];
            if (k == key) { long v = _values[i]; rank = (int)(v >> 32); merged = (int)v; return true; }
            if (k == Empty) { rank = merged = 0; return false; }
        }
    }
}
