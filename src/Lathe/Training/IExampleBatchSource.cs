using Lathe.Models;

namespace Lathe.Training;

/// <summary>A batch source of separate examples (supervised fine-tuning, classification) rather than one token stream:
/// besides inputs and targets it fills per-target loss weights (0 on prompt tokens and padding, 1 on what the model
/// must learn to produce) and, when it packs several examples into a row, their layout.</summary>
public interface IExampleBatchSource : IBatchSource
{
    /// <summary>Fills inputs, targets and weights (each B·T, row-major (B, T)); returns the packed layout of the rows,
    /// or null when every row holds one example (padded).</summary>
    PackedLayout? Next(Span<int> inputs, Span<int> targets, Span<float> weights, int B, int T);

    /// <summary>For a finite source evaluated whole (validation): the (B, T) batches one pass over every example takes
    /// from <see cref="IBatchSource.Position"/> 0, after which its rows are padding of weight 0; 0 for a source that
    /// cannot say (the evaluator then reads <see cref="TrainingOptions.EvalBatches"/> batches).</summary>
    int BatchesPerPass(int B, int T) => 0;

    /// <summary>What the objective needs beyond ids and weights about the batch the last <see cref="Next"/> filled (the
    /// pairs of a preference batch and their reference log-probabilities, …); the trainer hands it over as
    /// <see cref="TrainingBatch.Extra"/> when the rows are not packed. Null for plain examples.</summary>
    object? Payload => null;
}
