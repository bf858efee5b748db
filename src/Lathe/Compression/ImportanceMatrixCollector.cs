using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;
using Lathe.Tensors.Autograd;

namespace Lathe.Compression;

/// <summary>Computes an importance matrix the way llama.cpp's imatrix tool does: it listens to the input of every
/// block projection (and, with <c>includeOutput</c>, the output head — llama.cpp's --process-output) and adds up each
/// input column's x² over every token row, counting the rows. Keys are the GGUF tensor names the weights are written
/// under (<see cref="GgufLoraTargets"/>), so the matrix applies to an export of the same model and to llama.cpp's
/// quantizer. Attach to a model with F32 weights (quantized stacked projections do not pass through the hook).
/// Disposing detaches it.</summary>
public sealed class ImportanceMatrixCollector : ILinearInputObserver, IDisposable
{
    readonly Dictionary<LinearLayer, (string Name, double[] Sums)> _layers = [];
    readonly Dictionary<LinearLayer, long> _counts = [];

    public ImportanceMatrixCollector(CausalLM model, bool includeOutput = false)
    {
        var tensors = GgufLoraTargets.For(model.Config).ToDictionary(t => t.Module, t => t.Tensor, StringComparer.Ordinal);
        foreach (var layer in model.Linears)
        {
            if (!tensors.TryGetValue(layer.Name, out string? tensor)) continue;      // a tied head has no tensor of its own
            if (!tensor.StartsWith("blk.", StringComparison.Ordinal) && !(includeOutput && tensor == "output.weight")) continue;
            if (layer.InputObserver is not null) throw new InvalidOperationException($"{layer.Name}: another observer is attached.");
            _layers[layer] = (tensor, new double[layer.InFeatures]);
            _counts[layer] = 0;
            layer.InputObserver = this;
        }
    }

    /// <summary>Adds Σ x² of each input column over the rows of <paramref name="x"/> (…, in).</summary>
    public void Observe(LinearLayer layer, Tensor x)
    {
        if (!_layers.TryGetValue(layer, out var entry)) return;
        double[] sums = entry.Sums;
        int cols = sums.Length;
        // Accumulated in double, then stored as float as llama.cpp stores it: the sums of many tokens keep their digits.
        ReadOnlySpan<float> values = x.IsContiguous ? x.AsSpan() : x.ToArray();
        int rows = values.Length / cols;
        for (int r = 0; r < rows; r++)
        {
            var row = values.Slice(r * cols, cols);
            for (int j = 0; j < cols; j++) sums[j] += (double)row[j] * row[j];
        }
        _counts[layer] += rows;
    }

    /// <summary>The matrix so far, computed on <paramref name="datasets"/> in <paramref name="chunkCount"/> windows of
    /// <paramref name="chunkSize"/> tokens.</summary>
    public ImportanceMatrix ToMatrix(IReadOnlyList<string> datasets, int chunkCount, int chunkSize)
    {
        var entries = new SortedDictionary<string, ImportanceEntry>(StringComparer.Ordinal);
        foreach (var (layer, (name, sums)) in _layers)
            entries[name] = new ImportanceEntry(Array.ConvertAll(sums, s => (float)s), _counts[layer]);
        return new ImportanceMatrix(entries, datasets, chunkCount, chunkSize);
    }

    public void Dispose()
    {
        foreach (var layer in _layers.Keys)
            if (ReferenceEquals(layer.InputObserver, this)) layer.InputObserver = null;
    }

    /// <summary>The importance matrix of <paramref name="model"/> over <paramref name="ids"/>: consecutive windows of
    /// <paramref name="window"/> tokens (llama.cpp's chunks of n_ctx; a shorter tail is dropped, as there), each run as
    /// one sequence without gradients. <paramref name="maxChunks"/> &gt; 0 stops early.</summary>
    public static ImportanceMatrix Compute(CausalLM model, ReadOnlySpan<int> ids, int window, string dataset, int maxChunks = 0, bool includeOutput = false)
    {
        if (window < 1 || window > model.Config.MaxPositions)
            throw new ArgumentException($"imatrix: window {window} must be between 1 and the model's context {model.Config.MaxPositions}.");
        int chunks = ids.Length / window;
        if (maxChunks > 0) chunks = Math.Min(chunks, maxChunks);
        if (chunks == 0) throw new ArgumentException($"imatrix: the text has {ids.Length} tokens, fewer than one window of {window}.");
        using var collector = new ImportanceMatrixCollector(model, includeOutput);
        using var tape = new Tape();
        for (int c = 0; c < chunks; c++)
        {
            // Only the projections' inputs matter: the logits are computed and dropped with the tape.
            tape.Reset();
            using (tape.Activate())
            using (Tape.NoGrad())
                model.Logits(ids.Slice(c * window, window), 1, window);
        }
        return collector.ToMatrix([dataset], chunks, window);
    }
}
