namespace Lathe.Inference;

/// <summary>Keeps the full KV blocks of prompts and replies after their sequences end, keyed by their tokens and
/// everything before them, so a later request that starts with the same tokens (a system prompt, a chat history, the
/// same few-shot examples) shares those blocks instead of computing them again. A block's key is a hash chained over
/// the blocks before it (and the adapter that computed it: another adapter gives other keys and values); matches are
/// checked token by token, so a hash collision can never hand out wrong keys and values. The cache holds one
/// reference on each block it keeps (<see cref="PagedKvCache.Retain"/>); blocks that only it holds are evicted least
/// recently used first whenever the pool needs room.</summary>
public sealed class PrefixCache
{
    sealed class Entry(ulong key, ulong parent, int[] tokens, int block)
    {
        public readonly ulong Key = key, Parent = parent;
        public readonly int[] Tokens = tokens;
        public readonly int Block = block;
        public LinkedListNode<Entry>? Node;
    }

    readonly PagedKvCache _cache;
    readonly Dictionary<ulong, Entry> _entries = [];
    readonly LinkedList<Entry> _recency = new();   // least recently used first

    public PrefixCache(PagedKvCache cache) => _cache = cache;

    /// <summary>Blocks the cache keeps.</summary>
    public int Count => _entries.Count;

    /// <summary>Blocks that only the cache holds (evictable).</summary>
    public int IdleBlocks
    {
        get
        {
            int n = 0;
            foreach (var e in _entries.Values) if (_cache.References(e.Block) == 1) n++;
            return n;
        }
    }

    /// <summary>Appends to <paramref name="blocks"/> the longest run of cached blocks whose tokens start
    /// <paramref name="tokens"/> (whole blocks only) under <paramref name="adapter"/>; returns the tokens they cover.</summary>
    public int Match(string? adapter, ReadOnlySpan<int> tokens, List<int> blocks)
    {
        int size = _cache.BlockSize, matched = 0;
        ulong parent = Root(adapter);
        while (matched + size <= tokens.Length)
        {
            var chunk = tokens.Slice(matched, size);
            ulong key = Chain(parent, chunk);
            if (!_entries.TryGetValue(key, out var e) || e.Parent != parent || !chunk.SequenceEqual(e.Tokens)) break;
            Touch(e);
            blocks.Add(e.Block);
            matched += size;
            parent = key;
        }
        return matched;
    }

    /// <summary>Remembers the full blocks of a sequence: <paramref name="table"/>[i] holds
    /// <paramref name="tokens"/>[i·BlockSize … (i+1)·BlockSize). A trailing partial block is not kept.</summary>
    public void Insert(string? adapter, ReadOnlySpan<int> tokens, ReadOnlySpan<int> table)
    {
        int size = _cache.BlockSize;
        ulong parent = Root(adapter);
        for (int i = 0; i < table.Length && (i + 1) * size <= tokens.Length; i++)
        {
            var chunk = tokens.Slice(i * size, size);
            ulong key = Chain(parent, chunk);
            if (_entries.TryGetValue(key, out var e))
            {
                // The same content is cached already (or, astronomically rarely, another with the same key): keep the first.
                if (e.Parent != parent || !chunk.SequenceEqual(e.Tokens)) return;
                Touch(e);
            }
            else
            {
                _cache.Retain(table[i]);
                e = new Entry(key, parent, chunk.ToArray(), table[i]);
                e.Node = _recency.AddLast(e);
                _entries[key] = e;
            }
            parent = key;
        }
    }

    /// <summary>Frees the least recently used block that only the cache holds; false when there is none.</summary>
    public bool EvictOne()
    {
        for (var node = _recency.First; node is not null; node = node.Next)
        {
            var e = node.Value;
            if (_cache.References(e.Block) != 1) continue;   // a running sequence still reads it
            _recency.Remove(node);
            _entries.Remove(e.Key);
            _cache.Release(e.Block);
            return true;
        }
        return false;
    }

    /// <summary>Drops every entry (their blocks return to the pool once no sequence holds them).</summary>
    public void Clear()
    {
        foreach (var e in _entries.Values) _cache.Release(e.Block);
        _entries.Clear();
        _recency.Clear();
    }

    void Touch(Entry e)
    {
        _recency.Remove(e.Node!);
        _recency.AddLast(e.Node!);
    }

    static ulong Root(string? adapter)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        if (adapter is not null) foreach (char c in adapter) h = Mix(h ^ c);
        return Mix(h ^ (adapter is null ? 0UL : 1UL));
    }

    static ulong Chain(ulong parent, ReadOnlySpan<int> tokens)
    {
        ulong h = Mix(parent);
        foreach (int t in tokens) h = Mix(h ^ (uint)t);
        return h;
    }

    // SplitMix64's finaliser: every input bit affects every output bit.
    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
