using System.Numerics.Tensors;

namespace Lathe.Compression.Distillation;

/// <summary>The teacher's side of sparse KD: from one row of logits, the K most probable ids at temperature T, their
/// log-probabilities (normalised over the whole vocabulary) and the rest mass, summed over the ids left out.</summary>
public sealed class TopKSelection
{
    readonly float[] _logProbs, _probs;
    readonly bool[] _kept;
    readonly int[] _heapIds;
    readonly float[] _heapValues;

    public TopKSelection(int vocabSize, int k)
    {
        if (k < 1 || k > vocabSize) throw new ArgumentException($"--topk {k} must be in [1, {vocabSize}] (the vocabulary)");
        K = k;
        _logProbs = new float[vocabSize];
        _probs = new float[vocabSize];
        _kept = new bool[vocabSize];
        _heapIds = new int[k];
        _heapValues = new float[k];
    }

    public int K { get; }

    /// <summary>Fills <paramref name="ids"/> and <paramref name="logProbs"/> (K each, most probable first; ties go to the
    /// lower id) for <paramref name="logits"/> (V) at <paramref name="temperature"/>, and returns the rest mass.</summary>
    public float Select(ReadOnlySpan<float> logits, float temperature, Span<int> ids, Span<float> logProbs)
    {
        int V = _logProbs.Length;
        TensorPrimitives.Multiply(logits, 1f / temperature, _logProbs);
        float max = TensorPrimitives.Max(_logProbs);
        TensorPrimitives.Subtract(_logProbs, max, _logProbs);
        TensorPrimitives.Exp(_logProbs, _probs);
        float logSum = MathF.Log(TensorPrimitives.Sum(_probs));
        TensorPrimitives.Subtract(_logProbs, logSum, _logProbs);
        // The first K ids, then any id strictly above the current minimum replaces it (so among equals the lower id stays).
        for (int k = 0; k < K; k++) { _heapIds[k] = k; _heapValues[k] = _logProbs[k]; }
        int minAt = ArgMin();
        for (int j = K; j < V; j++)
        {
            if (_logProbs[j] <= _heapValues[minAt]) continue;
            _heapIds[minAt] = j;
            _heapValues[minAt] = _logProbs[j];
            minAt = ArgMin();
        }
        Array.Sort(_heapValues, _heapIds);   // ascending value; reversed below
        // Equal values: the sort leaves them in any order, so order them by id, lower first after the reversal.
        for (int k = 0; k < K; k++)
        {
            int src = K - 1 - k;
            ids[k] = _heapIds[src];
            logProbs[k] = _heapValues[src];
        }
        for (int a = 0; a < K;)
        {
            int b = a + 1;
            while (b < K && logProbs[b] == logProbs[a]) b++;
            if (b - a > 1) ids[a..b].Sort();
            a = b;
        }
        Array.Clear(_kept);
        foreach (int id in ids) _kept[id] = true;
        double rest = 0;
        TensorPrimitives.Exp(_logProbs, _probs);
        for (int j = 0; j < V; j++) if (!_kept[j]) rest += _probs[j];
        return (float)rest;
    }

    int ArgMin()
    {
        int at = 0;
        for (int k = 1; k < K; k++)
            if (_heapValues[k] < _heapValues[at] || (_heapValues[k] == _heapValues[at] && _heapIds[k] > _heapIds[at])) at = k;
        return at;
    }
}
