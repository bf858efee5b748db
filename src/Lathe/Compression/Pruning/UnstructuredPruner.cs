using Lathe.Models;

namespace Lathe.Compression.Pruning;

/// <summary>Zeroes single weights of every block linear layer (not the embeddings or the output head): magnitude
/// (the smallest |W| of each matrix), Wanda (Sun et al. 2023: the smallest |W_ij|·‖X_j‖₂ of each output row) or 2:4
/// (in each run of 4 consecutive input weights of a row, the 2 lowest-scoring). The file stays dense; the returned
/// mask re-zeroes the same weights after each recovery step.</summary>
public static class UnstructuredPruner
{
    /// <summary>Prunes <paramref name="model"/> in place. <paramref name="fraction"/> is the sparsity of each layer
    /// (ignored by 2:4, always ½). Wanda, and 2:4 with <paramref name="activations"/>, use activation-aware scores.</summary>
    public static SparsityMask Prune(CausalLM model, PruneMethod method, double fraction, ActivationStatistics? activations)
    {
        var zeroed = new List<(ModelParameter, int[])>();
        foreach (var layer in model.Linears)
        {
            if (layer.SharesWeight || layer.Name == "lm_head") continue;
            var w = layer.Weight;
            int rows = w.Dim(0), cols = w.Dim(1);
            double[]? norms = null;
            if (method == PruneMethod.Wanda || (method == PruneMethod.TwoFour && activations is not null))
                norms = (activations ?? throw new ArgumentException("prune: --method wanda needs --calibration.")).SumSquares(layer.Name);
            if (method == PruneMethod.TwoFour && cols % 4 != 0)
                throw new InvalidDataException($"prune: --method 2:4: {layer.Name} has {cols} inputs, not a multiple of 4.");
            var scores = Scores(w.AsSpan(), rows, cols, norms);
            int[] drop = method switch
            {
                PruneMethod.Magnitude => LowestOfMatrix(scores, fraction),
                PruneMethod.Wanda => LowestPerRow(scores, rows, cols, fraction),
                PruneMethod.TwoFour => TwoOfFour(scores, rows, cols),
                _ => throw new ArgumentException($"prune: {method} is not an unstructured method."),
            };
            var values = w.AsSpan();
            foreach (int i in drop) values[i] = 0;
            zeroed.Add((model.Parameters.First(p => ReferenceEquals(p.Value, w)), drop));
        }
        return new SparsityMask(zeroed);
    }

    /// <summary>|W_ij|, times ‖X_j‖₂ = √(Σ x_j²) when <paramref name="sumSquares"/> is given (Wanda's metric).</summary>
    public static double[] Scores(ReadOnlySpan<float> w, int rows, int cols, double[]? sumSquares)
    {
        var s = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
                s[r * cols + j] = Math.Abs((double)w[r * cols + j]) * (sumSquares is null ? 1 : Math.Sqrt(sumSquares[j]));
        return s;
    }

    /// <summary>The ⌊f·n⌋ lowest scores of the whole matrix (ties: lower index first).</summary>
    public static int[] LowestOfMatrix(double[] scores, double fraction)
    {
        int n = (int)Math.Floor(fraction * scores.Length);
        var order = Enumerable.Range(0, scores.Length).ToArray();
        Array.Sort(order, (a, b) => scores[a] != scores[b] ? scores[a].CompareTo(scores[b]) : a.CompareTo(b));
        return order[..n];
    }

    /// <summary>In each row, the ⌊f·cols⌋ lowest scores (Wanda's per-output comparison group).</summary>
    public static int[] LowestPerRow(double[] scores, int rows, int cols, double fraction)
    {
        int n = (int)Math.Floor(fraction * cols);
        var result = new int[rows * n];
        var order = new int[cols];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++) order[j] = j;
            int b = r * cols;
            Array.Sort(order, (x, y) => scores[b + x] != scores[b + y] ? scores[b + x].CompareTo(scores[b + y]) : x.CompareTo(y));
            for (int k = 0; k < n; k++) result[r * n + k] = b + order[k];
        }
        return result;
    }

    /// <summary>In each group of 4 consecutive inputs of a row, the 2 lowest scores (ties: lower index first).</summary>
    public static int[] TwoOfFour(double[] scores, int rows, int cols)
    {
        var result = new int[rows * cols / 2];
        int n = 0;
        Span<int> g = stackalloc int[4];
        for (int start = 0; start < rows * cols; start += 4)
        {
            for (int k = 0; k < 4; k++) g[k] = start + k;
            // Four elements: an insertion sort by (score, index).
            for (int i = 1; i < 4; i++)
                for (int k = i; k > 0 && scores[g[k]] < scores[g[k - 1]]; k--) (g[k], g[k - 1]) = (g[k - 1], g[k]);
            result[n++] = g[0];
            result[n++] = g[1];
        }
        return result;
    }
}

/// <summary>The weights an unstructured pruning zeroed, per parameter, to re-zero after an update (recovery keeps
/// the sparsity pattern).</summary>
public sealed class SparsityMask(IReadOnlyList<(ModelParameter Parameter, int[] Zeroed)> zeroed)
{
    // An array, indexed: Apply runs after every recovery step and allocates nothing.
    readonly (ModelParameter Parameter, int[] Zeroed)[] _zeroed = [.. zeroed];

    public IReadOnlyList<(ModelParameter Parameter, int[] Zeroed)> Zeroed => _zeroed;

    /// <summary>Zeroed weights over the weights of the pruned matrices.</summary>
    public double Sparsity
    {
        get
        {
            long z = 0, n = 0;
            foreach (var (p, idx) in _zeroed) { z += idx.Length; n += p.Value.Length; }
            return n == 0 ? 0 : (double)z / n;
        }
    }

    /// <summary>Zeroes the pruned weights again.</summary>
    public void Apply()
    {
        for (int k = 0; k < _zeroed.Length; k++)
        {
            var v = _zeroed[k].Parameter.Value.AsSpan();
            foreach (int i in _zeroed[k].Zeroed) v[i] = 0;
        }
    }
}
