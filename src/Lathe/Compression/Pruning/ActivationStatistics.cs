using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Compression.Pruning;

/// <summary>Per input feature of each linear layer, Σ x_j² over every calibration token: ‖X_j‖₂² in Wanda's score
/// (Sun et al. 2023) and the squared norm of a head's or channel's output when read at the projection that consumes it.
/// Collected through the layers' adapter slot (an adapter that looks at x and passes y on unchanged), so no
/// architecture changes for it.</summary>
public sealed class ActivationStatistics
{
    readonly Dictionary<string, double[]> _sumSquares = new(StringComparer.Ordinal);

    /// <summary>Σ x_j² of the layer named <paramref name="linear"/> ("model.layers.0.self_attn.o_proj").</summary>
    public double[] SumSquares(string linear) => _sumSquares.TryGetValue(linear, out var s) ? s
        : throw new KeyNotFoundException($"activation statistics: no layer '{linear}'.");

    /// <summary>Runs the calibration set through <paramref name="model"/> and records every block linear layer's inputs
    /// (the output head is not pruned, so not recorded). Any adapters already attached are restored afterwards.</summary>
    public static ActivationStatistics Collect(CausalLM model, CalibrationSet calibration)
    {
        var stats = new ActivationStatistics();
        var attached = new List<(LinearLayer Layer, ILinearAdapter? Previous)>();
        foreach (var layer in model.Linears)
        {
            if (layer.SharesWeight || layer.Name == "lm_head") continue;
            var sums = new double[layer.InFeatures];
            stats._sumSquares[layer.Name] = sums;
            attached.Add((layer, layer.Adapter));
            layer.Adapter = new Recorder(sums, layer.Adapter);
        }
        try { calibration.Forward(model); }
        finally { foreach (var (layer, previous) in attached) layer.Adapter = previous; }
        return stats;
    }

    sealed class Recorder(double[] sums, ILinearAdapter? inner) : ILinearAdapter
    {
        public Tensor Forward(Tensor x, Tensor y)
        {
            var data = x.IsContiguous ? x : Ops.Contiguous(x);   // (…, in)
            var span = data.AsSpan();
            int width = sums.Length;
            for (int row = 0; row + width <= span.Length; row += width)
                for (int j = 0; j < width; j++) { double v = span[row + j]; sums[j] += v * v; }
            return inner is null ? y : inner.Forward(x, y);
        }
    }
}
