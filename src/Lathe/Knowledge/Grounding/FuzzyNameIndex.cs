namespace Lathe.Knowledge.Grounding;

/// <summary>Finds the name keys within a small edit distance of a query without comparing it to every name: the
/// symmetric deletion neighbourhood (as SymSpell does). Each key of length L is indexed under every string made by
/// deleting up to <see cref="EditDistance.Allowed"/>(L) of its characters; a query looks up its own deletions (up to
/// 2), and the keys found are checked with the real distance. If two strings are within d edits, deleting at most d
/// characters from each makes them equal (a substitution is one deletion on each side), so no match is missed.</summary>
/// <remarks>Deletion strings are stored as 64-bit FNV-1a hashes in one sorted array of (hash, key) pairs — compact
/// and deterministic; a hash collision only adds a candidate the distance check then refuses.</remarks>
internal sealed class FuzzyNameIndex
{
    readonly string[] _keys;
    readonly ulong[] _hashes;   // sorted
    readonly int[] _keyOf;      // parallel to _hashes
    readonly int _maxLength;    // the longest key: a query longer by more than 2 cannot match

    public FuzzyNameIndex(IEnumerable<string> keys)
    {
        _keys = keys.Where(k => k.Length >= 5).Distinct(StringComparer.Ordinal).OrderBy(k => k, StringComparer.Ordinal).ToArray();
        var pairs = new List<(ulong Hash, int Key)>();
        var seen = new HashSet<ulong>();
        for (int k = 0; k < _keys.Length; k++)
        {
            seen.Clear();
            foreach (ulong h in Deletions(_keys[k], EditDistance.Allowed(_keys[k].Length)))
                if (seen.Add(h)) pairs.Add((h, k));
        }
        pairs.Sort((a, b) => a.Hash != b.Hash ? a.Hash.CompareTo(b.Hash) : a.Key.CompareTo(b.Key));
        _maxLength = _keys.Length == 0 ? 0 : _keys.Max(k => k.Length);
        _hashes = new ulong[pairs.Count];
        _keyOf = new int[pairs.Count];
        for (int i = 0; i < pairs.Count; i++) (_hashes[i], _keyOf[i]) = pairs[i];
    }

    /// <summary>The indexed keys closest to <paramref name="query"/> within the allowed distance (of the shorter of
    /// the two), with that distance; empty when none is close enough or the query is too short.</summary>
    public (IReadOnlyList<string> Keys, int Distance) Nearest(string query)
    {
        if (query.Length < 5 || query.Length > _maxLength + 2) return ([], 0);
        var found = new SortedSet<int>();
        foreach (ulong h in Deletions(query, query.Length >= 8 ? 2 : 1))
        {
            int i = LowerBound(h);
            for (; i < _hashes.Length && _hashes[i] == h; i++) found.Add(_keyOf[i]);
        }
        int best = int.MaxValue;
        var nearest = new List<string>();
        foreach (int k in found)
        {
            string key = _keys[k];
            int allowed = EditDistance.Allowed(Math.Min(key.Length, query.Length));
            int d = EditDistance.Bounded(query, key, allowed);
            if (d == 0 || d > allowed) continue;   // 0: an exact match is not the fuzzy index's business
            if (d < best) { best = d; nearest.Clear(); }
            if (d == best) nearest.Add(key);
        }
        return (nearest, nearest.Count == 0 ? 0 : best);
    }

    int LowerBound(ulong h)
    {
        int lo = 0, hi = _hashes.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_hashes[mid] < h) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    // The hashes of s with every choice of up to `depth` characters deleted (s itself included).
    static IEnumerable<ulong> Deletions(string s, int depth)
    {
        yield return Hash(s, -1, -1);
        if (depth < 1) yield break;
        for (int i = 0; i < s.Length; i++)
        {
            yield return Hash(s, i, -1);
            if (depth < 2) continue;
            for (int j = i + 1; j < s.Length; j++) yield return Hash(s, i, j);
        }
    }

    // FNV-1a over the characters of s without positions skip1 and skip2.
    static ulong Hash(string s, int skip1, int skip2)
    {
        ulong h = 14695981039346656037UL;
        for (int i = 0; i < s.Length; i++)
        {
            if (i == skip1 || i == skip2) continue;
            h = (h ^ s[i]) * 1099511628211UL;
        }
        return h;
    }
}
