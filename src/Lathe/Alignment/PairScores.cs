using Lathe.Tensors;

namespace Lathe.Alignment;

/// <summary>Per-row numbers of a <see cref="PairBatch"/> (chosen in even rows, rejected in odd) split into the
/// chosen (pairs) and rejected (pairs) halves, on the tape.</summary>
public static class PairScores
{
    public static (Tensor Chosen, Tensor Rejected) Split(Tensor perRow)
    {
        if (perRow.Length % 2 != 0) throw new ArgumentException($"pair scores: {perRow.Length} rows is not a whole number of pairs.");
        int pairs = (int)(perRow.Length / 2);
        var grid = Ops.Reshape(perRow, pairs, 2);
        return (Ops.Reshape(Ops.Narrow(grid, 1, 0, 1), pairs), Ops.Reshape(Ops.Narrow(grid, 1, 1, 1), pairs));
    }

    /// <summary>Throws when the batch holds padding pairs (the end of a single pass): training batches never do.</summary>
    public static void RequireFull(PairBatch batch, string objective)
    {
        foreach (int i in batch.PairIndex)
            if (i < 0) throw new InvalidOperationException($"{objective}: a training batch holds padding pairs (use a repeating source).");
    }
}
