using Lathe.Models;
using Lathe.Training;

namespace Lathe.Compression.Distillation;

/// <summary>One micro-batch's teacher from a top-k file: (B·T, K) ids and log-probabilities and (B·T) rest masses,
/// buffers reused from batch to batch.</summary>
public sealed class TopKBatch
{
    public TopKBatch(int positions, int k)
    {
        K = k;
        Ids = new int[positions * k];
        LogProbs = new float[positions * k];
        RestMass = new float[positions];
    }

    public int K { get; }
    public int[] Ids { get; }
    public float[] LogProbs { get; }
    public float[] RestMass { get; }
    public TopKTeacher Teacher => new(Ids, LogProbs, RestMass, K);
}

/// <summary>The trainer's batches with their top-k teacher: the shards' batches as <paramref name="inner"/> gives them,
/// and for each the file's record of the same micro-batch (record = position / B), handed to the objective as
/// <see cref="TrainingBatch.Extra"/>. A record whose inputs hash differs from the batch's is refused: the file was
/// made over another data order.</summary>
public sealed class TopKBatchSource(IBatchSource inner, TopKReader reader) : IExampleBatchSource, IDisposable
{
    readonly TopKBatch _batch = new(reader.Header.Positions, reader.Header.K);

    public long Position { get => inner.Position; set => inner.Position = value; }

    public object? Payload => _batch;

    public void Next(Span<int> inputs, Span<int> targets, int B, int T)
    {
        if (B != reader.Header.BatchSize || T != reader.Header.BlockSize)
            throw new ArgumentException($"{reader.Path}: batch ({B}, {T}) differs from the file's ({reader.Header.BatchSize}, {reader.Header.BlockSize})");
        long position = inner.Position;
        if (position % B != 0) throw new InvalidDataException($"{reader.Path}: data position {position} is not at a micro-batch boundary of {B} rows");
        inner.Next(inputs, targets, B, T);
        long index = position / B;
        ulong hash = reader.Read(index, _batch.Ids, _batch.LogProbs, _batch.RestMass);
        if (hash != TopKFile.InputsHash(inputs[..(B * T)]))
            throw new InvalidDataException($"{reader.Path}: micro-batch {index} was computed over other windows than --data gives now (data, seed, batch or block differ)");
    }

    public PackedLayout? Next(Span<int> inputs, Span<int> targets, Span<float> weights, int B, int T)
    {
        Next(inputs, targets, B, T);
        weights[..(B * T)].Fill(1f);
        return null;
    }

    /// <summary>Closes the file (the inner source is its owner's to dispose).</summary>
    public void Dispose() => reader.Dispose();
}
