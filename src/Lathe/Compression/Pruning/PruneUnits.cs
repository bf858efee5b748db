using Lathe.Models;

namespace Lathe.Compression.Pruning;

/// <summary>Where one prunable unit of a decoder block lives in the weights: which rows or columns of which parameters
/// a head (a kv group under GQA) or an MLP channel owns. Memory layout is (out, in) for every linear layer of both
/// architectures (GPT-2's Conv1D is transposed on load), so a unit is rows of the projections that produce it and
/// columns of the projection that reads it. Scores and the smaller model both read this one table.</summary>
internal static class PruneUnits
{
    /// <summary>One parameter's share of the units: along <paramref name="Axis"/> (0 rows, 1 columns; a bias has only 0),
    /// in <paramref name="Parts"/> blocks of <paramref name="PartSize"/> (GPT-2's c_attn is q | k | v), each unit a run of
    /// <paramref name="Width"/> indices at u·Width inside every block.</summary>
    public readonly record struct Slice(string Parameter, int Axis, int Parts, int PartSize, int Width)
    {
        /// <summary>The indices the units <paramref name="units"/> own, block by block, units in the order given.</summary>
        public int[] Indices(ReadOnlySpan<int> units)
        {
            var result = new int[Parts * units.Length * Width];
            int n = 0;
            for (int p = 0; p < Parts; p++)
                foreach (int u in units)
                    for (int d = 0; d < Width; d++) result[n++] = p * PartSize + u * Width + d;
            return result;
        }
    }

    /// <summary>Attention units of one layer: a head (GPT-2, or Llama without GQA), or a kv head with the query heads
    /// that read it (Llama with GQA: removing a query head alone would leave the groups uneven).</summary>
    public static int AttentionUnitCount(ModelConfig c) => c.KvHeads;

    /// <summary>The slices of layer <paramref name="layer"/>'s attention units; the output projection (what the
    /// activation score reads) comes last.</summary>
    public static Slice[] Attention(ModelConfig c, int layer)
    {
        int D = c.HeadDim, H = c.Heads, group = c.Heads / c.KvHeads;
        if (c.ModelType == "gpt2")
        {
            string n = $"transformer.h.{layer}.attn.";
            return [new(n + "c_attn.weight", 0, 3, H * D, D), new(n + "c_attn.bias", 0, 3, H * D, D), new(n + "c_proj.weight", 1, 1, H * D, D)];
        }
        string m = $"model.layers.{layer}.self_attn.";
        return [new(m + "q_proj.weight", 0, 1, H * D, group * D), new(m + "k_proj.weight", 0, 1, c.KvHeads * D, D),
            new(m + "v_proj.weight", 0, 1, c.KvHeads * D, D), new(m + "o_proj.weight", 1, 1, H * D, group * D)];
    }

    /// <summary>The slices of layer <paramref name="layer"/>'s MLP channels; the down projection comes last.</summary>
    public static Slice[] Mlp(ModelConfig c, int layer)
    {
        int I = c.Intermediate;
        if (c.ModelType == "gpt2")
        {
            string n = $"transformer.h.{layer}.mlp.";
            return [new(n + "c_fc.weight", 0, 1, I, 1), new(n + "c_fc.bias", 0, 1, I, 1), new(n + "c_proj.weight", 1, 1, I, 1)];
        }
        string m = $"model.layers.{layer}.mlp.";
        return [new(m + "gate_proj.weight", 0, 1, I, 1), new(m + "up_proj.weight", 0, 1, I, 1), new(m + "down_proj.weight", 1, 1, I, 1)];
    }

    /// <summary>The parameters a block writes into the residual stream with: zeroing them makes the block the identity
    /// (x + 0 + 0), which is what "the layer skipped" means for the layer score and the tests.</summary>
    public static string[] ResidualWriters(ModelConfig c, int layer) => c.ModelType == "gpt2"
        ? [$"transformer.h.{layer}.attn.c_proj.weight", $"transformer.h.{layer}.attn.c_proj.bias", $"transformer.h.{layer}.mlp.c_proj.weight", $"transformer.h.{layer}.mlp.c_proj.bias"]
        : [$"model.layers.{layer}.self_attn.o_proj.weight", $"model.layers.{layer}.mlp.down_proj.weight"];

    /// <summary>The prefix of layer <paramref name="layer"/>'s parameter names ("transformer.h.3.", "model.layers.3.").</summary>
    public static string LayerPrefix(ModelConfig c, int layer) => c.ModelType == "gpt2" ? $"transformer.h.{layer}." : $"model.layers.{layer}.";

    /// <summary>Refuses what structured pruning cannot shrink: architectures other than gpt2/llama, MoE layers, and
    /// (for heads) ALiBi, whose slopes are a function of the head count and index.</summary>
    public static void CheckSupported(ModelConfig c, PruneMethod method)
    {
        if (c.ModelType is not ("gpt2" or "llama"))
            throw new InvalidDataException($"prune: model_type '{c.ModelType}': pruning supports gpt2 and llama decoders.");
        if (c.NumExperts > 0 && method is PruneMethod.Heads or PruneMethod.Channels or PruneMethod.Layers)
            throw new InvalidDataException("prune: mixture-of-experts models are not supported by structured pruning.");
        if (method == PruneMethod.Heads && c.PositionEmbeddingType == "alibi")
            throw new InvalidDataException("prune: --method heads: ALiBi slopes depend on the head count; not supported.");
    }
}
