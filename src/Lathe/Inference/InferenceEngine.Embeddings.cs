namespace Lathe.Inference;

// Embedding requests run on the engine's thread between decode steps, so they never race a step for the model.
public sealed partial class InferenceEngine
{
    /// <summary>One embedding per input: pooled final hidden states, L2-normalised (<see cref="Embedder"/>). Inputs
    /// longer than the context are refused (ArgumentException naming the input's index).</summary>
    public Task<float[][]> EmbedAsync(IReadOnlyList<int[]> inputs, CancellationToken cancel = default)
    {
        if (inputs.Count == 0) throw new ArgumentException("input: it is empty.");
        int vocab = Model.Model.Config.VocabSize, context = Model.Model.Config.MaxPositions;
        for (int i = 0; i < inputs.Count; i++)
        {
            if (inputs[i].Length == 0) throw new ArgumentException($"input[{i}]: it is empty.");
            if (inputs[i].Length > context) throw new ArgumentException($"input[{i}]: {inputs[i].Length} tokens is more than the model's context of {context}.");
            foreach (int t in inputs[i])
                if ((uint)t >= (uint)vocab) throw new ArgumentException($"input[{i}]: token id {t} is outside the vocabulary of {vocab}.");
        }
        var job = new EmbeddingJob(inputs, cancel);
        lock (_gate)
        {
            if (_stopping) throw new ObjectDisposedException(nameof(InferenceEngine));
            _embeddings.Enqueue(job);
        }
        _wake.Release();
        return job.Result.Task;
    }

    // Called on the loop thread under the gate.
    void RunEmbeddings()
    {
        while (_embeddings.Count > 0)
        {
            var job = _embeddings.Dequeue();
            if (job.Cancel.IsCancellationRequested) { job.Result.TrySetCanceled(job.Cancel); continue; }
            try { job.Result.TrySetResult(ComputeEmbeddings(job.Inputs)); }
            catch (Exception e) { job.Result.TrySetException(e); }
        }
    }

    EmbeddingPooling? _pooling;   // the model's stated convention, read at the first embedding request

    // The base alone embeds: an adapter a decode step left active would change the hidden states.
    float[][] ComputeEmbeddings(IReadOnlyList<int[]> inputs)
    {
        Adapters?.Use(null);
        _pooling ??= Embedder.PoolingFor(Model);
        return Embedder.Embed(Model.Model, inputs, _pooling.Value);
    }

    sealed class EmbeddingJob(IReadOnlyList<int[]> inputs, CancellationToken cancel)
    {
        public readonly IReadOnlyList<int[]> Inputs = inputs;
        public readonly CancellationToken Cancel = cancel;
        public readonly TaskCompletionSource<float[][]> Result = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
