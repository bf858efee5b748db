namespace Lathe.Data;

/// <summary>Where a <see cref="TokenWindowLoader"/> stands: with the same shards, B and T, a loader built from
/// this state continues exactly where the saved one was.</summary>
/// <param name="Seed">The order seed.</param>
/// <param name="Epoch">Completed passes over all windows.</param>
/// <param name="Position">Windows already served in the current epoch.</param>
public sealed record LoaderState(ulong Seed, long Epoch, long Position);

/// <summary>Serves batches of (B, T+1) token windows from memory-mapped shards: window k of a shard (or of a token
/// range of one, see <see cref="ShardRange"/>) is tokens [kT, kT+T+1) of it, so consecutive windows overlap by the
/// one token that is the last target, and no window crosses a range's end. Each epoch visits every window once in
/// an order shuffled by (seed, epoch); only the pages of the windows served are read.</summary>
public sealed class TokenWindowLoader : IDisposable
{
    readonly TokenShard[] shards;
    readonly long[] start;       // first token of each range inside its shard
    readonly long[] firstWindow; // first global window index of each range; last entry = total
    int[] order = [];
    long epoch, position;
    long shuffledEpoch = -1;
    readonly ulong seed;

    /// <summary>Batch size and context length.</summary>
    public int B { get; }
    public int T { get; }
    /// <summary>Windows per epoch.</summary>
    public long WindowCount { get; }

    public TokenWindowLoader(IReadOnlyList<string> shardPaths, int b, int t, LoaderState state)
        : this(WholeShards(shardPaths), b, t, state) { }

    /// <summary>A loader over token ranges of shards (the trainer's view of a <see cref="ShardFolder"/>).</summary>
    public TokenWindowLoader(IReadOnlyList<ShardRange> ranges, int b, int t, LoaderState state)
    {
        if (b < 1) throw new ArgumentOutOfRangeException(nameof(b));
        if (t < 1) throw new ArgumentOutOfRangeException(nameof(t));
        B = b; T = t;
        shards = new TokenShard[ranges.Count];
        start = new long[ranges.Count];
        firstWindow = new long[ranges.Count + 1];
        try
        {
            for (int i = 0; i < shards.Length; i++)
            {
                var r = ranges[i];
                shards[i] = TokenShard.Open(r.Path);
                if (r.Start < 0 || r.Count < 0 || r.Start + r.Count > shards[i].Count)
                    throw new ArgumentException($"data: {r.Path}: range [{r.Start}, {r.Start + r.Count}) is outside its {shards[i].Count} tokens");
                start[i] = r.Start;
                long windows = r.Count > t ? (r.Count - 1) / t : 0;
                firstWindow[i + 1] = firstWindow[i] + windows;
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        WindowCount = firstWindow[^1];
        if (WindowCount == 0) throw new InvalidDataException($"data: shards hold no window of T+1 = {t + 1} tokens");
        if (WindowCount > int.MaxValue) throw new InvalidDataException("data: more than 2^31 windows; use a larger T or fewer shards");
        seed = state.Seed;
        Seek(state.Epoch, state.Position);
    }

    static ShardRange[] WholeShards(IReadOnlyList<string> paths)
    {
        var ranges = new ShardRange[paths.Count];
        for (int i = 0; i < ranges.Length; i++)
        {
            using var s = TokenShard.Open(paths[i]);
            ranges[i] = new ShardRange(paths[i], 0, s.Count);
        }
        return ranges;
    }

    /// <summary>Moves to window <paramref name="windowPosition"/> of epoch <paramref name="epochIndex"/> (the state a
    /// saved run had); the epoch's order is reshuffled only when the epoch changes.</summary>
    public void Seek(long epochIndex, long windowPosition)
    {
        if (windowPosition < 0 || windowPosition > WindowCount || epochIndex < 0)
            throw new ArgumentException($"loader state position {windowPosition} out of range 0..{WindowCount}");
        epoch = epochIndex;
        position = windowPosition;
        if (shuffledEpoch != epoch) Shuffle();
    }

    /// <summary>A fresh loader at the start of epoch 0.</summary>
    public TokenWindowLoader(IReadOnlyList<string> shardPaths, int b, int t, ulong seed = 0) : this(shardPaths, b, t, new LoaderState(seed, 0, 0)) { }

    /// <summary>The state to save for an exact resume.</summary>
    public LoaderState State => new(seed, epoch, position);

    /// <summary>Fills <paramref name="batch"/> (B·(T+1) ints, row-major (B, T+1)) with the next B windows.</summary>
    public void NextBatch(Span<int> batch)
    {
        int row = T + 1;
        if (batch.Length != B * row) throw new ArgumentException($"batch needs B*(T+1) = {B * row} ints", nameof(batch));
        for (int b = 0; b < B; b++)
        {
            if (position == WindowCount) { epoch++; position = 0; Shuffle(); }
            long window = order[position++];
            int shard = ShardOf(window);
            shards[shard].Read(start[shard] + (window - firstWindow[shard]) * T, batch.Slice(b * row, row));
        }
    }

    int ShardOf(long window)
    {
        int lo = 0, hi = shards.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (firstWindow[mid] <= window) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    // Fisher–Yates with SplitMix64 seeded by (seed, epoch): the order of an epoch depends on nothing else.
    void Shuffle()
    {
        if (order.Length != WindowCount) order = new int[WindowCount];
        shuffledEpoch = epoch;
        for (int i = 0; i < order.Length; i++) order[i] = i;
        ulong state = Hash64.Combine(seed, (ulong)epoch);
        for (int i = order.Length - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            int j = (int)(Hash64.Mix(state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    public void Dispose()
    {
        foreach (var s in shards) s?.Dispose();
    }
}
