using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Compression.Pruning;

/// <summary>Importance of each attention unit (<see cref="PruneUnits.Attention"/>) or MLP channel of every layer, and of
/// each whole layer. Higher is more important; the lowest-scoring units go.</summary>
public static class StructuredScores
{
    /// <summary>scores[layer][unit] for heads (<paramref name="channels"/> false) or MLP channels.
    /// Magnitude: ‖unit's weights and biases‖₂ over every slice. Activation: √(Σ x²) of the unit's columns at the
    /// projection that reads it (needs <paramref name="activations"/>). Taylor: |Σ w·∂L/∂w| over the unit's weights
    /// (the gradients must be in the parameters: <see cref="CalibrationSet.Gradients"/>).</summary>
    public static double[][] Units(CausalLM model, bool channels, ImportanceScore score, ActivationStatistics? activations)
    {
        var c = model.Config;
        var byName = Parameters(model);
        int units = channels ? c.Intermediate : PruneUnits.AttentionUnitCount(c);
        var result = new double[c.Layers][];
        var one = new int[1];
        for (int l = 0; l < c.Layers; l++)
        {
            var slices = channels ? PruneUnits.Mlp(c, l) : PruneUnits.Attention(c, l);
            result[l] = new double[units];
            for (int u = 0; u < units; u++)
            {
                one[0] = u;
                double s = 0;
                if (score == ImportanceScore.Activation)
                {
                    var reader = slices[^1];   // the output projection: its input columns are the unit's outputs
                    var sums = (activations ?? throw new ArgumentException("prune: --score activation needs --calibration."))
                        .SumSquares(reader.Parameter[..^".weight".Length]);
                    foreach (int j in reader.Indices(one)) s += sums[j];
                    result[l][u] = Math.Sqrt(s);
                    continue;
                }
                foreach (var slice in slices)
                {
                    var w = byName[slice.Parameter].Value;
                    foreach (int i in slice.Indices(one)) s += Sum(w, slice.Axis, i, score);
                }
                result[l][u] = score == ImportanceScore.Magnitude ? Math.Sqrt(s) : Math.Abs(s);
            }
        }
        return result;
    }

    // Σ w² (magnitude) or Σ w·g (Taylor) over row or column i of w (a bias: its element i).
    static double Sum(Tensor w, int axis, int i, ImportanceScore score)
    {
        var values = w.AsSpan();
        ReadOnlySpan<float> grads = default;
        if (score == ImportanceScore.Taylor)
            grads = (w.Grad ?? throw new InvalidOperationException($"prune: {w.Name} has no gradient for the Taylor score.")).AsSpan();
        int rows = w.Dim(0), cols = w.Rank == 1 ? 1 : w.Dim(1);
        double s = 0;
        if (axis == 0)
            for (int k = i * cols; k < (i + 1) * cols; k++) s += score == ImportanceScore.Taylor ? (double)values[k] * grads[k] : (double)values[k] * values[k];
        else
            for (int r = 0; r < rows; r++)
            {
                int k = r * cols + i;
                s += score == ImportanceScore.Taylor ? (double)values[k] * grads[k] : (double)values[k] * values[k];
            }
        return s;
    }

    /// <summary>Per layer, calibration loss with the block skipped minus the full model's (a block skipped = its
    /// residual-writing projections zeroed, <see cref="PruneUnits.ResidualWriters"/>); the weights are restored.</summary>
    public static double[] LayerSkipLoss(CausalLM model, CalibrationSet calibration)
    {
        var c = model.Config;
        var byName = Parameters(model);
        double full = calibration.Loss(model);
        var result = new double[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            var names = PruneUnits.ResidualWriters(c, l);
            var saved = names.Select(n => byName[n].Value.ToArray()).ToArray();
            foreach (var n in names) byName[n].Value.AsSpan().Clear();
            try { result[l] = calibration.Loss(model) - full; }
            finally { for (int i = 0; i < names.Length; i++) saved[i].CopyTo(byName[names[i]].Value.AsSpan()); }
        }
        return result;
    }

    /// <summary>The <paramref name="keep"/> highest-scoring indices, ascending (ties keep the lower index: a stable
    /// rule, so the same scores always give the same model).</summary>
    public static int[] Keep(double[] scores, int keep)
    {
        var order = Enumerable.Range(0, scores.Length).OrderByDescending(i => scores[i]).ThenBy(i => i).Take(keep).ToArray();
        Array.Sort(order);
        return order;
    }

    internal static Dictionary<string, ModelParameter> Parameters(LanguageModel model)
    {
        var d = new Dictionary<string, ModelParameter>(StringComparer.Ordinal);
        foreach (var p in model.Parameters) d[p.Name] = p;
        return d;
    }
}
