namespace Lathe.Data;

/// <summary>Exact and near-duplicate detection over a corpus, fed in document order. Exact: a document whose
/// normalised-text hash (<see cref="Hash64.OfNormalized"/>) was seen before is a duplicate. Near: MinHash
/// signatures are banded (<see cref="LshBands"/>); documents sharing a band bucket are joined in a union-find
/// whose root is always the smallest document index, so after <see cref="Add"/> has seen every document,
/// each cluster keeps its first member and drops the rest. Same input order and seed → same decisions.</summary>
public sealed class Deduplicator
{
    readonly HashSet<ulong> exact = [];
    readonly Dictionary<ulong, int> buckets = [];
    readonly List<int> parent = [];
    readonly List<bool> exactDuplicate = [];
    readonly List<(int, int)>? pairs;

    /// <summary>The banding in use.</summary>
    public LshBands Bands { get; }
    /// <summary>Whether near-duplicate detection runs (false: exact only).</summary>
    public bool NearDuplicates { get; }
    /// <summary>Documents seen.</summary>
    public int Count => parent.Count;
    /// <summary>Documents dropped as exact duplicates.</summary>
    public long ExactDuplicates { get; private set; }

    /// <param name="threshold">Jaccard similarity above which documents count as near duplicates (0.8 default).</param>
    /// <param name="numHashes">Signature length the caller's <see cref="MinHasher"/> uses.</param>
    /// <param name="nearDuplicates">False turns near-duplicate detection off.</param>
    /// <param name="collectPairs">Record every candidate pair (later document, earlier document) that shared a
    /// band, for checking precision against exact Jaccard.</param>
    public Deduplicator(double threshold = 0.8, int numHashes = 128, bool nearDuplicates = true, bool collectPairs = false)
    {
        Bands = LshBands.ForThreshold(threshold, numHashes);
        NearDuplicates = nearDuplicates;
        if (collectPairs) pairs = [];
    }

    /// <summary>Candidate pairs, when collected.</summary>
    public IReadOnlyList<(int Later, int Earlier)> CandidatePairs => pairs ?? [];

    /// <summary>Adds the next document (index <see cref="Count"/>); returns false when it is an exact duplicate
    /// of an earlier one. <paramref name="signature"/> may be empty for a document with no words.</summary>
    public bool Add(ulong normalizedHash, ReadOnlySpan<uint> signature)
    {
        int doc = parent.Count;
        parent.Add(doc);
        if (!exact.Add(normalizedHash))
        {
            exactDuplicate.Add(true);
            ExactDuplicates++;
            return false;
        }
        exactDuplicate.Add(false);
        if (!NearDuplicates || signature.IsEmpty) return true;
        int r = Bands.Rows;
        for (int band = 0; band < Bands.Bands; band++)
        {
            ulong key = (ulong)band * 0x9E3779B97F4A7C15UL;
            var rows = signature.Slice(band * r, r);
            for (int i = 0; i < rows.Length; i++) key = Hash64.Combine(key, rows[i]);
            if (buckets.TryGetValue(key, out int earlier))
            {
                pairs?.Add((doc, earlier));
                Union(doc, earlier);
            }
            else buckets.Add(key, doc);
        }
        return true;
    }

    /// <summary>Whether document <paramref name="doc"/> survives: not an exact duplicate and first of its cluster.
    /// Final only after every document has been added.</summary>
    public bool Keep(int doc) => !exactDuplicate[doc] && Find(doc) == doc;

    /// <summary>Documents dropped as near duplicates (final after every document has been added).</summary>
    public long CountNearDuplicates()
    {
        long n = 0;
        for (int i = 0; i < parent.Count; i++) if (!exactDuplicate[i] && Find(i) != i) n++;
        return n;
    }

    int Find(int x)
    {
        int root = x;
        while (parent[root] != root) root = parent[root];
        while (parent[x] != root) { int next = parent[x]; parent[x] = root; x = next; } // path compression
        return root;
    }

    void Union(int x, int y)
    {
        int rx = Find(x), ry = Find(y);
        if (rx == ry) return;
        if (rx < ry) parent[ry] = rx; else parent[rx] = ry; // the earliest document stays the root
    }
}
