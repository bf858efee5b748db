using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Training;

/// <summary>How fine-tuning examples fill the (B, T) rows of a batch.</summary>
public enum SequenceMode
{
    /// <summary>Examples back to back in each row (greedy, never split across rows), attending only within their own
    /// example (a <see cref="PackedLayout"/>); the row's rest is padding.</summary>
    Packed,
    /// <summary>One example per row, the rest padding.</summary>
    Padded,
}

/// <summary>Batches of tokenized conversations for supervised fine-tuning: an example of L tokens gives L − 1
/// (input, target) pairs; a target's weight is 1 when its token is trainable (an assistant reply or end of turn), else
/// 0. Targets of weight 0 — prompt tokens and padding — are −100, the ignore index of
/// <see cref="Ops.CrossEntropy(Tensor, ReadOnlySpan{int}, ReadOnlySpan{float}, int)"/>, so the loss skips their rows
/// altogether (no softmax computed, exactly zero gradient); padding inputs are <c>padId</c>, a valid id.</summary>
/// <remarks>Order: each epoch visits every example once in a permutation drawn from (seed, epoch), so
/// <see cref="Position"/> = epoch·N + index says everything a resumed run needs, bit for bit. A source built with
/// <c>repeat: false</c> is one pass in file order (for validation): after the last example its rows are padding.</remarks>
public sealed class SftBatchSource : IExampleBatchSource
{
    readonly SftExample[] _examples;
    readonly int[] _order;
    readonly ulong _seed;
    readonly bool _shuffle, _repeat;
    readonly int _padId;
    long _position;
    long _orderEpoch = -1;
    float[] _scratchWeights = [];
    PackedLayout? _layout;

    /// <param name="examples">Tokenized examples, each of at least 2 tokens.</param>
    /// <param name="shuffle">A fresh permutation each epoch (training); false keeps the given order.</param>
    /// <param name="repeat">Start over after the last example (training); false: one pass, then padding.</param>
    public SftBatchSource(IReadOnlyList<SftExample> examples, SequenceMode mode, ulong seed, int padId = 0, bool shuffle = true, bool repeat = true)
    {
        if (examples.Count == 0) throw new ArgumentException("sft: no examples.");
        for (int i = 0; i < examples.Count; i++)
            if (examples[i].Ids.Length < 2 || examples[i].Trainable.Length != examples[i].Ids.Length)
                throw new ArgumentException($"sft: example {i} has {examples[i].Ids.Length} tokens and {examples[i].Trainable.Length} mask entries (needs ≥ 2, equal).");
        if (padId < 0) throw new ArgumentException($"sft: pad id {padId} must be a token id (≥ 0).");
        _examples = [.. examples];
        _order = new int[_examples.Length];
        Mode = mode; _seed = seed; _padId = padId; _shuffle = shuffle; _repeat = repeat;
    }

    public SequenceMode Mode { get; }
    /// <summary>Examples per epoch.</summary>
    public int Count => _examples.Length;
    /// <summary>Longest example in tokens (a row of T inputs takes examples of up to T + 1).</summary>
    public int LongestExample => _examples.Max(e => e.Ids.Length);

    /// <summary>Examples consumed so far: epoch·N + index within the epoch.</summary>
    public long Position
    {
        get => _position;
        set
        {
            if (value < 0 || (!_repeat && value > Count))
                throw new InvalidDataException($"sft: data position {value} is outside {(_repeat ? "[0, ∞)" : $"[0, {Count}]")}");
            _position = value;
        }
    }

    /// <summary>The examples in the order epoch <paramref name="epoch"/> visits them (a copy).</summary>
    public int[] EpochOrder(long epoch) { Order(epoch); return [.. _order]; }

    void Order(long epoch)
    {
        if (epoch == _orderEpoch) return;
        if (_shuffle) EpochPermutation.Fill(_order, _seed, epoch);
        else for (int i = 0; i < _order.Length; i++) _order[i] = i;
        _orderEpoch = epoch;
    }

    // The next example without consuming it, or null at the end of a single pass.
    SftExample? Peek()
    {
        if (!_repeat && _position >= Count) return null;
        Order(_position / Count);
        return _examples[_order[(int)(_position % Count)]];
    }

    /// <inheritdoc/>
    public PackedLayout? Next(Span<int> inputs, Span<int> targets, Span<float> weights, int B, int T)
    {
        if (inputs.Length != B * T || targets.Length != B * T || weights.Length != B * T)
            throw new ArgumentException($"sft: buffers of {inputs.Length}, {targets.Length}, {weights.Length} for B·T = {B * T}.");
        PackedLayout? layout = null;
        if (Mode == SequenceMode.Packed)
        {
            if (_layout is null || _layout.B != B || _layout.T != T) _layout = new PackedLayout(B, T);   // reused step to step
            layout = _layout;
        }
        for (int b = 0; b < B; b++)
        {
            int row = b * T, used = 0;
            while (Peek() is { } e)
            {
                int pairs = e.Ids.Length - 1;
                if (pairs > T) throw new InvalidDataException($"sft: an example of {e.Ids.Length} tokens does not fit a context of {T} (truncate or drop overlong examples when tokenizing).");
                if (used + pairs > T) break;                      // never split an example: it starts the next row
                for (int i = 0; i < pairs; i++)
                {
                    int at = row + used + i;
                    inputs[at] = e.Ids[i];
                    bool train = e.Trainable[i + 1];
                    targets[at] = train ? e.Ids[i + 1] : -100;
                    weights[at] = train ? 1f : 0f;
                    if (layout is not null) { layout.Positions[at] = i; layout.SegmentStarts[at] = used; }
                }
                used += pairs;
                _position++;
                if (Mode == SequenceMode.Padded) break;
            }
            // Padding: its own segment, weight 0, an ignored target.
            for (int t = used; t < T; t++)
            {
                inputs[row + t] = _padId;
                targets[row + t] = -100;
                weights[row + t] = 0f;
                if (layout is not null) { layout.Positions[row + t] = t - used; layout.SegmentStarts[row + t] = used; }
            }
        }
        return layout;
    }

    /// <summary>The batch without its weights and layout (as a token-stream source): targets of weight 0 are −100.</summary>
    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        if (_scratchWeights.Length != B * T) _scratchWeights = new float[B * T];
        Next(inputs, targets, _scratchWeights, B, T);
    }

    /// <summary>Batches of (B, T) one pass over every example takes from position 0 (by the same greedy packing).</summary>
    public int BatchesPerPass(int B, int T)
    {
        int rows = 0, used = T;
        Order(0);
        for (int i = 0; i < Count; i++)
        {
            int pairs = _examples[_order[i]].Ids.Length - 1;
            if (Mode == SequenceMode.Padded || used + pairs > T) { rows++; used = 0; }
            used += pairs;
        }
        return (rows + B - 1) / B;
    }
}
