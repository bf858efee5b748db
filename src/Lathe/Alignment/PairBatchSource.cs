using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training;

namespace Lathe.Alignment;

/// <summary>A preference pair tokenized: the prompt followed by each response (its tokens marked trainable), and
/// the pair's margin (Llama 2's preference-strength margin; 0 when none).</summary>
public sealed record EncodedPair(SftExample Chosen, SftExample Rejected, float Margin = 0f);

/// <summary>The batch a <see cref="PairBatchSource"/> filled: its rows (pair i's chosen response in row 2i, rejected in
/// row 2i + 1) and which pairs they are, for objectives that keep per-pair data (DPO's reference log-probabilities).</summary>
public sealed class PairBatch(int pairs, int T)
{
    public ResponseRows Rows { get; } = new(2 * pairs, T);
    /// <summary>The pair index of each of the batch's pairs, −1 for a padding pair (the end of a single pass).</summary>
    public int[] PairIndex { get; } = new int[pairs];
    public int Pairs => PairIndex.Length;
    /// <summary>Margins of the batch's pairs (0 for padding).</summary>
    public float[] Margins { get; } = new float[pairs];
}

/// <summary>Batches of preference pairs for reward modelling and DPO: B rows hold B/2 pairs, one response per row
/// (padded, never packed: each row's last token is where a reward head reads, and its response sum is one
/// number). Each epoch visits every pair once in a permutation drawn from (seed, epoch), so the position says
/// everything a resumed run needs; a source built with <c>repeat: false</c> is one pass in order (evaluation).</summary>
public sealed class PairBatchSource : IExampleBatchSource
{
    readonly EncodedPair[] _pairs;
    readonly int[] _order;
    readonly ulong _seed;
    readonly bool _repeat;
    readonly int _padId;
    long _position, _orderEpoch = -1;
    PairBatch? _batch;

    public PairBatchSource(IReadOnlyList<EncodedPair> pairs, ulong seed, int padId, bool repeat = true)
    {
        if (pairs.Count == 0) throw new ArgumentException("pairs: no preference pairs.");
        _pairs = [.. pairs];
        _order = new int[_pairs.Length];
        _seed = seed; _padId = padId; _repeat = repeat;
    }

    public int Count => _pairs.Length;
    public IReadOnlyList<EncodedPair> Pairs => _pairs;
    /// <summary>The longest response sequence in tokens (rows of T hold sequences of up to T tokens).</summary>
    public int Longest => _pairs.Max(p => Math.Max(p.Chosen.Ids.Length, p.Rejected.Ids.Length));

    public long Position
    {
        get => _position;
        set
        {
            if (value < 0 || (!_repeat && value > Count)) throw new InvalidDataException($"pairs: data position {value} is outside the data");
            _position = value;
        }
    }

    public object? Payload => _batch;

    public int BatchesPerPass(int B, int T) => (Count + B / 2 - 1) / (B / 2);

    public void Next(Span<int> inputs, Span<int> targets, int B, int T) => Next(inputs, targets, new float[B * T], B, T);

    public PackedLayout? Next(Span<int> inputs, Span<int> targets, Span<float> weights, int B, int T)
    {
        if (B % 2 != 0) throw new ArgumentException($"pairs: batch size {B} must be even (two rows per pair).");
        int pairs = B / 2;
        if (_batch is null || _batch.Pairs != pairs || _batch.Rows.T != T) _batch = new PairBatch(pairs, T);
        var rows = _batch.Rows;
        for (int i = 0; i < pairs; i++)
        {
            int index = -1;
            if (_repeat || _position < Count)
            {
                long epoch = _position / Count;
                if (epoch != _orderEpoch) Shuffle(epoch);
                index = _repeat ? _order[(int)(_position % Count)] : (int)_position;
                _position++;
            }
            _batch.PairIndex[i] = index;
            var pair = index < 0 ? null : _pairs[index];
            _batch.Margins[i] = pair?.Margin ?? 0f;
            rows.Set(2 * i, pair?.Chosen, _padId);
            rows.Set(2 * i + 1, pair?.Rejected, _padId);
        }
        rows.Complete();
        rows.Inputs.CopyTo(inputs);
        rows.Targets.CopyTo(targets);
        rows.Weights.CopyTo(weights);
        return null;
    }

    /// <summary>One pass over <paramref name="pairs"/> in order, B rows (B/2 pairs) at a time without gradients:
    /// <paramref name="perRow"/> maps each batch's rows to one number per row, returned per pair as (chosen, rejected)
    /// — reference log-probabilities, a reward model's scores on held-out pairs.</summary>
    public static (float[] Chosen, float[] Rejected) EvaluateInOrder(IReadOnlyList<EncodedPair> pairs, int B, int T, int padId,
        Func<ResponseRows, float[]> perRow)
    {
        var chosen = new float[pairs.Count];
        var rejected = new float[pairs.Count];
        if (pairs.Count == 0) return (chosen, rejected);
        var source = new PairBatchSource(pairs, seed: 0, padId, repeat: false);
        var (inputs, targets, weights) = (new int[B * T], new int[B * T], new float[B * T]);
        using var tape = new Lathe.Tensors.Autograd.Tape();
        for (int i = 0, n = source.BatchesPerPass(B, T); i < n; i++)
        {
            source.Next(inputs, targets, weights, B, T);
            var batch = source._batch!;
            tape.Reset();
            float[] rows;
            using (tape.Activate())
            using (Lathe.Tensors.Autograd.Tape.NoGrad())
                rows = perRow(batch.Rows);
            for (int p = 0; p < batch.Pairs; p++)
            {
                int index = batch.PairIndex[p];
                if (index < 0) continue;
                chosen[index] = rows[2 * p];
                rejected[index] = rows[2 * p + 1];
            }
        }
        return (chosen, rejected);
    }

    void Shuffle(long epoch)
    {
        EpochPermutation.Fill(_order, _seed, epoch);
        _orderEpoch = epoch;
    }
}
