using Lathe.Data;

namespace Lathe.Training;

/// <summary>The trainer's batches straight from memory-mapped token shards: a <see cref="TokenWindowLoader"/> over a
/// data folder's training ranges (no size ceiling, nothing held in memory beyond one batch and the epoch's window
/// order). Each row is a window of T+1 tokens: the first T are inputs, the last T the targets. Windows come in an
/// order shuffled per epoch by the seed, so the same seed gives the same batches.</summary>
/// <remarks><see cref="Position"/> packs the loader's (epoch, window) into one number, epoch · windows + window,
/// which trainer_state.json saves as data_position: a resumed run continues with exactly the next window.</remarks>
public sealed class ShardBatchSource : Distributed.ISkippableBatchSource, IDisposable
{
    readonly TokenWindowLoader _loader;
    readonly int[] _rows;   // (B, T+1) windows of the current micro-batch

    /// <summary>Opens the training ranges of <paramref name="folder"/> for batches of <paramref name="B"/> rows of
    /// <paramref name="T"/> tokens, in an order drawn from <paramref name="seed"/>.</summary>
    public ShardBatchSource(ShardFolder folder, int B, int T, ulong seed) : this(folder.Train, B, T, seed) { }

    /// <summary>Over explicit token ranges.</summary>
    public ShardBatchSource(IReadOnlyList<ShardRange> ranges, int B, int T, ulong seed)
    {
        _loader = new TokenWindowLoader(ranges, B, T, new LoaderState(seed, 0, 0));
        _rows = new int[B * (T + 1)];
    }

    /// <summary>Windows per epoch.</summary>
    public long WindowCount => _loader.WindowCount;

    /// <inheritdoc/>
    public long Position
    {
        get { var s = _loader.State; return s.Epoch * _loader.WindowCount + s.Position; }
        set
        {
            if (value < 0) throw new InvalidDataException($"data: position {value} is negative");
            _loader.Seek(value / _loader.WindowCount, value % _loader.WindowCount);
        }
    }

    /// <inheritdoc/>
    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        if (B != _loader.B || T != _loader.T)
            throw new ArgumentException($"batch ({B}, {T}) differs from the loader's ({_loader.B}, {_loader.T})");
        _loader.NextBatch(_rows);
        // (B, T+1) → inputs (B, T) = window[0..T), targets (B, T) = window[1..T+1).
        for (int b = 0; b < B; b++)
        {
            var row = _rows.AsSpan(b * (T + 1), T + 1);
            row[..T].CopyTo(inputs.Slice(b * T, T));
            row[1..].CopyTo(targets.Slice(b * T, T));
        }
    }

    /// <inheritdoc/>
    public void Skip(int batches, int B, int T)
    {
        if (B != _loader.B || T != _loader.T)
            throw new ArgumentException($"batch ({B}, {T}) differs from the loader's ({_loader.B}, {_loader.T})");
        Position += (long)batches * B;
    }

    public void Dispose() => _loader.Dispose();
}
