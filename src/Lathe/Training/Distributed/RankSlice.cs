using Lathe.Distributed;
using Lathe.Models;

namespace Lathe.Training.Distributed;

/// <summary>One rank's share of a batch source that every rank reads the same way: the source's batches are dealt
/// round-robin, so at each micro-batch rank r trains on the r-th of the next K batches and no two ranks see the same
/// window in an epoch. The position stays the global one (K batches per micro-batch), which is why a checkpoint made
/// with K ranks resumes with K′.</summary>
/// <remarks>The other ranks' batches are skipped (<see cref="ISkippableBatchSource"/>: a seek) or read into scratch
/// buffers. Batches after this rank's are skipped lazily — at the next read or position query — so the objective can
/// still use this rank's batch payload in between.</remarks>
public class RankSlice : IBatchSource
{
    readonly IBatchSource _inner;
    readonly int _rank, _ranks;
    int _pendingAfter, _pendingB, _pendingT;
    int[] _scratchIn = [], _scratchOut = [];
    float[] _scratchWeights = [];

    protected RankSlice(IBatchSource inner, int rank, int ranks)
    {
        if (ranks < 1 || rank < 0 || rank >= ranks) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {ranks}");
        _inner = inner;
        _rank = rank;
        _ranks = ranks;
    }

    /// <summary>Rank <paramref name="rank"/>'s share of <paramref name="inner"/>; keeps the example interface when the
    /// inner source has it.</summary>
    public static IBatchSource Of(IBatchSource inner, int rank, int ranks) =>
        ranks == 1 ? inner : inner is IExampleBatchSource e ? new RankSliceOfExamples(e, rank, ranks) : new RankSlice(inner, rank, ranks);

    protected IBatchSource Inner => _inner;

    public long Position
    {
        get { SkipPending(); return _inner.Position; }
        set { _pendingAfter = 0; _inner.Position = value; }
    }

    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        Before(B, T);
        _inner.Next(inputs, targets, B, T);
        After(B, T);
    }

    protected void Before(int B, int T)
    {
        SkipPending();
        Skip(_rank, B, T);
    }

    protected void After(int B, int T) => (_pendingAfter, _pendingB, _pendingT) = (_ranks - 1 - _rank, B, T);

    void SkipPending()
    {
        if (_pendingAfter == 0) return;
        int n = _pendingAfter;
        _pendingAfter = 0;
        Skip(n, _pendingB, _pendingT);
    }

    void Skip(int batches, int B, int T)
    {
        if (batches == 0) return;
        if (_inner is ISkippableBatchSource s) { s.Skip(batches, B, T); return; }
        if (_scratchIn.Length < B * T) { _scratchIn = new int[B * T]; _scratchOut = new int[B * T]; _scratchWeights = new float[B * T]; }
        for (int i = 0; i < batches; i++)
        {
            if (_inner is IExampleBatchSource e) e.Next(_scratchIn.AsSpan(0, B * T), _scratchOut.AsSpan(0, B * T), _scratchWeights.AsSpan(0, B * T), B, T);
            else _inner.Next(_scratchIn.AsSpan(0, B * T), _scratchOut.AsSpan(0, B * T), B, T);
        }
    }
}

/// <summary><see cref="RankSlice"/> over a source of examples (fine-tuning, preference pairs).</summary>
public sealed class RankSliceOfExamples(IExampleBatchSource inner, int rank, int ranks) : RankSlice(inner, rank, ranks), IExampleBatchSource
{
    public PackedLayout? Next(Span<int> inputs, Span<int> targets, Span<float> weights, int B, int T)
    {
        Before(B, T);
        var layout = inner.Next(inputs, targets, weights, B, T);
        After(B, T);
        return layout;
    }

    public int BatchesPerPass(int B, int T) => inner.BatchesPerPass(B, T);
    public object? Payload => inner.Payload;
}

/// <summary>A batch source that can pass over batches without reading them (a seek).</summary>
public interface ISkippableBatchSource : IBatchSource
{
    /// <summary>Moves on as <paramref name="batches"/> calls of Next with (B, T) would.</summary>
    void Skip(int batches, int B, int T);
}
