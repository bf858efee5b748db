using Lathe.Data;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Training.Objectives;

namespace Lathe.Training;

/// <summary>The trainer's batches for sequence classification: one example per row, right-padded with [PAD] to the
/// batch's T, targets as <see cref="SequenceClassificationObjective"/> reads them (the label on the row's tokens, −100
/// on padding). Examples come in an order shuffled per epoch from the seed; <see cref="Position"/> = epoch · N + index
/// restores both, so a resumed run sees exactly the batches the uninterrupted one saw.</summary>
public sealed class ClassificationBatchSource : IBatchSource
{
    readonly IReadOnlyList<ClassificationExample> _examples;
    readonly int _pad;
    readonly ulong _seed;
    readonly int[] _order;
    long _epoch = -1;   // the epoch _order holds
    long _position;

    /// <param name="examples">The training examples (at least one).</param>
    /// <param name="padId">The [PAD] id (<see cref="ModelConfig.PadId"/>).</param>
    public ClassificationBatchSource(ClassificationExamples examples, int padId, ulong seed)
    {
        if (examples.Items.Count == 0) throw new InvalidDataException("data: no training examples");
        _examples = examples.Items;
        _pad = padId;
        _seed = seed;
        _order = new int[_examples.Count];
    }

    /// <summary>Examples per epoch.</summary>
    public int Count => _examples.Count;

    public long Position
    {
        get => _position;
        set
        {
            if (value < 0) throw new InvalidDataException($"data: position {value} is negative");
            _position = value;
        }
    }

    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        if (inputs.Length != B * T || targets.Length != B * T)
            throw new ArgumentException($"batch: {inputs.Length} inputs and {targets.Length} targets for B={B}, T={T}.");
        for (int b = 0; b < B; b++)
        {
            var e = _examples[Example(_position++)];
            if (e.Ids.Length > T) throw new ArgumentException($"batch: an example of {e.Ids.Length} ids does not fit T={T}; tokenize with the training context");
            var row = inputs.Slice(b * T, T);
            e.Ids.CopyTo(row);
            row[e.Ids.Length..].Fill(_pad);
            SequenceClassificationObjective.WriteRow(targets.Slice(b * T, T), e.Ids.Length, e.Label);
        }
    }

    // The example at a global position: the epoch's shuffled order (drawn from the seed and the epoch), then the index.
    int Example(long position)
    {
        long epoch = position / _order.Length;
        if (epoch != _epoch)
        {
            for (int i = 0; i < _order.Length; i++) _order[i] = i;
            LabelledTexts.Shuffle(_order, new Philox(Hash64.Mix(_seed ^ (ulong)epoch)));
            _epoch = epoch;
        }
        return _order[position % _order.Length];
    }
}
