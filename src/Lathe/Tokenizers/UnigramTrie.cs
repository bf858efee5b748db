namespace Lathe.Tokenizers;

/// <summary>A trie over the UTF-16 chars of the Unigram pieces, stored flat: one open-addressing hash table maps
/// (node, char) to the child node, and each node holds the id of the piece ending there (or -1). Walking it from a
/// position finds every piece that starts there in one pass, with no allocation.</summary>
internal sealed class UnigramTrie
{
    const long Empty = -1;
    readonly long[] _keys;     // (parent << 16) | char, or Empty
    readonly int[] _children;
    readonly int _shift;       // 64 - log2(table size), for multiplicative hashing
    readonly int[] _ids;       // piece id per node (-1: no piece ends here); node 0 is the root

    /// <summary>Number of nodes, root included.</summary>
    public int NodeCount => _ids.Length;

    /// <summary>Builds the trie of <paramref name="pieces"/>; where a piece repeats, its first id wins.
    /// <paramref name="include"/> (when given) says which ids go in.</summary>
    public UnigramTrie(IReadOnlyList<string> pieces, Func<int, bool>? include = null)
    {
        long chars = 0;
        for (int i = 0; i < pieces.Count; i++) chars += pieces[i].Length;
        int capacity = 16;
        while (capacity < chars * 2 + 16) capacity <<= 1;
        _keys = new long[capacity];
        Array.Fill(_keys, Empty);
        _children = new int[capacity];
        _shift = 64 - System.Numerics.BitOperations.Log2((uint)capacity);
        var ids = new List<int>((int)Math.Min(chars + 1, int.MaxValue)) { -1 };
        for (int id = 0; id < pieces.Count; id++)
        {
            if (include is not null && !include(id)) continue;
            string piece = pieces[id];
            if (piece.Length == 0) continue;
            int node = 0;
            foreach (char c in piece)
            {
                long key = ((long)node << 16) | c;
                int slot = Slot(key);
                while (_keys[slot] != Empty && _keys[slot] != key) slot = (slot + 1) & (capacity - 1);
                if (_keys[slot] == Empty)
                {
                    _keys[slot] = key;
                    _children[slot] = ids.Count;
                    ids.Add(-1);
                }
                node = _children[slot];
            }
            if (ids[node] < 0) ids[node] = id;
        }
        _ids = ids.ToArray();
    }

    int Slot(long key) => (int)((ulong)(key * unchecked((long)0x9E3779B97F4A7C15)) >> _shift);

    /// <summary>The child of <paramref name="node"/> along <paramref name="c"/>, or -1.</summary>
    public int Child(int node, char c)
    {
        long key = ((long)node << 16) | c;
        long[] keys = _keys;
        int mask = keys.Length - 1, slot = Slot(key);
        while (true)
        {
            long k = keys[slot];
            if (k == key) return _children[slot];
            if (k == Empty) return -1;
            slot = (slot + 1) & mask;
        }
    }

    /// <summary>The id of the piece that ends at <paramref name="node"/>, or -1.</summary>
    public int IdAt(int node) => _ids[node];
}
