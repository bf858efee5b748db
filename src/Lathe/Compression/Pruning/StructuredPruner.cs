using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Compression.Pruning;

/// <summary>Builds the genuinely smaller model: what each layer keeps (attention units, MLP channels, which old layers
/// in which order) becomes a config with the new shapes and parameters copied row and column from the old ones. The
/// kept units are the same count in every layer (one config field each); heads keep their width, so head_dim is
/// written explicitly once the head count no longer divides d_model.</summary>
public static class StructuredPruner
{
    /// <summary>Keeps the attention units <paramref name="keptUnits"/>[layer] (heads; kv groups under GQA).</summary>
    public static CausalLM KeepHeads(CausalLM model, int[][] keptUnits)
    {
        var c = model.Config;
        int group = c.Heads / c.KvHeads, kept = Uniform(keptUnits, c.Layers, PruneUnits.AttentionUnitCount(c), "heads");
        var config = c with { HeadDim = c.HeadDim, Heads = kept * group, KvHeads = kept };
        return Build(model, config, l => l, l => PruneUnits.Attention(c, l), keptUnits);
    }

    /// <summary>Keeps the MLP channels <paramref name="keptChannels"/>[layer].</summary>
    public static CausalLM KeepChannels(CausalLM model, int[][] keptChannels)
    {
        var c = model.Config;
        int kept = Uniform(keptChannels, c.Layers, c.Intermediate, "channels");
        return Build(model, c with { Intermediate = kept }, l => l, l => PruneUnits.Mlp(c, l), keptChannels);
    }

    /// <summary>Keeps the blocks <paramref name="keptLayers"/> (ascending old indices), renumbered 0…</summary>
    public static CausalLM KeepLayers(CausalLM model, int[] keptLayers)
    {
        var c = model.Config;
        if (keptLayers.Length == 0 || keptLayers.Any(l => l < 0 || l >= c.Layers) || keptLayers.Distinct().Count() != keptLayers.Length)
            throw new ArgumentException($"prune: kept layers [{string.Join(", ", keptLayers)}] must be distinct indices below {c.Layers}, at least one.");
        return Build(model, c with { Layers = keptLayers.Length }, l => keptLayers[l], null, null);
    }

    static int Uniform(int[][] kept, int layers, int units, string what)
    {
        if (kept.Length != layers) throw new ArgumentException($"prune: {kept.Length} kept-{what} lists for {layers} layers.");
        int n = kept[0].Length;
        foreach (var k in kept)
        {
            if (k.Length != n) throw new ArgumentException($"prune: every layer must keep the same number of {what} ({n} vs {k.Length}).");
            if (k.Length == 0) throw new ArgumentException($"prune: a layer would keep no {what}.");
            if (k.Any(u => u < 0 || u >= units) || k.Distinct().Count() != k.Length)
                throw new ArgumentException($"prune: kept {what} [{string.Join(", ", k)}] must be distinct indices below {units}.");
        }
        return n;
    }

    // The new model's parameters, each from the old layer oldLayer(l), sliced along the axes that slices(l) names.
    static CausalLM Build(CausalLM model, ModelConfig config, Func<int, int> oldLayer, Func<int, PruneUnits.Slice[]>? slices, int[][]? kept)
    {
        var source = StructuredScores.Parameters(model);
        var pruned = CausalLM.Decoder(LanguageModel.Create(config, seed: 0));
        try
        {
            foreach (var p in pruned.Parameters)
            {
                string name = p.Name;
                int[]? rows = null, cols = null;
                int layer = LayerOf(config, name);
                if (layer >= 0)
                {
                    int old = oldLayer(layer);
                    name = PruneUnits.LayerPrefix(config, old) + name[PruneUnits.LayerPrefix(config, layer).Length..];
                    if (slices is not null)
                        foreach (var s in slices(old))
                            if (s.Parameter == name)
                            {
                                if (s.Axis == 0) rows = s.Indices(kept![old]);
                                else cols = s.Indices(kept![old]);
                            }
                }
                CopySelected(source[name].Value, p.Value, rows, cols);
            }
        }
        catch { pruned.Dispose(); throw; }
        return pruned;
    }

    static int LayerOf(ModelConfig c, string name)
    {
        string prefix = c.ModelType == "gpt2" ? "transformer.h." : "model.layers.";
        if (!name.StartsWith(prefix, StringComparison.Ordinal)) return -1;
        int dot = name.IndexOf('.', prefix.Length);
        return int.Parse(name.AsSpan(prefix.Length, dot - prefix.Length), System.Globalization.CultureInfo.InvariantCulture);
    }

    // dst = src[rows, cols] (null: every index), in the (out, in) memory layout; a vector takes rows only.
    static void CopySelected(Tensor src, Tensor dst, int[]? rows, int[]? cols)
    {
        var s = src.AsSpan();
        var d = dst.AsSpan();
        int srcCols = src.Rank == 1 ? 1 : src.Dim(1), dstRows = dst.Dim(0), dstCols = dst.Rank == 1 ? 1 : dst.Dim(1);
        if ((rows?.Length ?? src.Dim(0)) != dstRows || (cols?.Length ?? srcCols) != dstCols)
            throw new InvalidOperationException($"prune: {dst.Name}: selection does not match the new shape {Tensor.ShapeString(dst.Shape)}.");
        for (int r = 0; r < dstRows; r++)
        {
            int sr = rows is null ? r : rows[r];
            if (cols is null) s.Slice(sr * srcCols, dstCols).CopyTo(d.Slice(r * dstCols, dstCols));
            else for (int k = 0; k < dstCols; k++) d[r * dstCols + k] = s[sr * srcCols + cols[k]];
        }
    }
}
