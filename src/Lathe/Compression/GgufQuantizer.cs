using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Compression;

/// <summary>Writes a model, or re-encodes a GGUF file, as one of llama.cpp's presets: each tensor's type from
/// <see cref="QuantizationMix"/>, general.file_type the preset's, and — given an importance matrix — each weight's
/// importance row passed to the encoder (as llama.cpp's quantize passes its imatrix). Returns what it chose per
/// tensor, with the substitutions for the 32-block types Lathe lacks.</summary>
public static class GgufQuantizer
{
    /// <summary>Writes <paramref name="model"/> with its tokenizer to <paramref name="path"/> as <paramref name="preset"/>.</summary>
    public static IReadOnlyList<TensorTypeChoice> Save(CausalLM model, Tokenizer tokenizer, string path, QuantizationPreset preset,
        ImportanceMatrix? imatrix = null, string? imatrixSource = null, bool pure = false, string name = "lathe")
    {
        var c = model.Config;
        var tensors = GgufExport.TensorShapes(c).Select(t => (t.Name, t.Dims, GgmlType.F32)).ToList();
        var choices = QuantizationMix.Choose(preset, tensors, new MixModelShape(c.Layers, c.Heads, c.KvHeads), imatrix is not null, pure);
        GgufExport.Save(model, tokenizer, path, Plan(preset, tensors, choices, imatrix, imatrixSource), name);
        return choices;
    }

    /// <summary>Re-encodes the GGUF file <paramref name="source"/> into <paramref name="path"/> as <paramref name="preset"/>.</summary>
    public static IReadOnlyList<TensorTypeChoice> Requantize(GgufFile source, string path, QuantizationPreset preset,
        ImportanceMatrix? imatrix = null, string? imatrixSource = null, bool pure = false)
    {
        string arch = source.Meta<string>("general.architecture");
        int layers = (int)source.Meta<uint>(arch + ".block_count"), heads = (int)source.Meta<uint>(arch + ".attention.head_count");
        int kvHeads = source.Metadata.TryGetValue(arch + ".attention.head_count_kv", out var kv) && kv is uint k ? (int)k : heads;
        var tensors = source.Tensors.Select(t => (t.Name, t.Dims, t.Type)).ToList();
        var choices = QuantizationMix.Choose(preset, tensors, new MixModelShape(layers, heads, kvHeads), imatrix is not null, pure);
        GgufExport.Requantize(source, path, Plan(preset, tensors, choices, imatrix, imatrixSource));
        return choices;
    }

    static GgufTypePlan Plan(QuantizationPreset preset, List<(string Name, long[] Dims, GgmlType Type)> tensors, TensorTypeChoice[] choices,
        ImportanceMatrix? imatrix, string? imatrixSource)
    {
        var types = new Dictionary<string, GgmlType>(StringComparer.Ordinal);
        Dictionary<string, float[]>? importance = imatrix is null ? null : new(StringComparer.Ordinal);
        string what = $"imatrix {imatrixSource ?? "(computed)"}";
        for (int i = 0; i < tensors.Count; i++)
        {
            var (name, dims, type) = tensors[i];
            var stored = choices[i].Stored;
            types[name] = stored;
            if (imatrix is null || stored == type || stored is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16) continue;
            float[]? row = imatrix.Values(name);
            bool inBlock = name.StartsWith("blk.", StringComparison.Ordinal);
            // The imatrix tool collects every block projection; the embedding and the head it skips by default, so
            // llama.cpp quantizes those without one, and so does this.
            if (row is null)
            {
                if (inBlock) throw new InvalidDataException($"{what}: no entry for tensor '{name}' (computed for another model?).");
                continue;
            }
            if (row.Length != dims[0])
            {
                if (name == "token_embd.weight") continue;     // llama.cpp ignores a token_embd entry of the wrong size
                throw new InvalidDataException($"{what}: entry '{name}' has {row.Length} values but the tensor's rows have {dims[0]}.");
            }
            foreach (float v in row)
                if (!float.IsFinite(v)) throw new InvalidDataException($"{what}: entry '{name}' holds a non-finite value {v}.");
            importance![name] = row;
        }
        return GgufTypePlan.PerTensor(preset.FileType, types, importance);
    }
}
