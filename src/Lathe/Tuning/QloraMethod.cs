using Lathe.Compression;
using Lathe.Models;
using Lathe.Tensors.Quantized;

namespace Lathe.Tuning;

/// <summary>QLoRA (Dettmers et al. 2023): LoRA over a frozen base whose projections stay quantized (Q8_0/Q4_0 here —
/// ggml's block formats, not the paper's NF4; F16 too). The backward needs only the input gradient through each quantized
/// matrix (<c>Ops.QuantLinear</c>'s backward decodes W a panel at a time), so the F32 copies of the projections are
/// freed and memory holds the quantized bytes, the F32 embeddings and norms (and a tied lm_head's shared embedding),
/// and the adapters.</summary>
public static class QloraMethod
{
    /// <summary>Quantizes <paramref name="model"/>'s projections to <paramref name="type"/> (releasing their F32 weights;
    /// a model whose projections are all quantized already — a GGUF base — is kept as it is) and attaches fresh LoRA
    /// adapters. The result's <see cref="LoraMethod.Name"/> is "qlora"; its base can no longer be saved or merged into.</summary>
    public static LoraMethod Attach(CausalLM model, LoraConfig config, QuantType type, ulong seed)
    {
        Quantize(model, config, type);
        return LoraMethod.Attach(model, config, seed);
    }

    /// <summary>As <see cref="Attach"/> with the adapter read from a PEFT folder.</summary>
    public static LoraMethod Load(CausalLM model, string dir, QuantType type)
    {
        // The config alone: LoraMethod.Load reads the weights once the base is quantized.
        var config = LoraConfig.FromJson(Formats.Peft.PeftAdapterFolder.ReadConfig(dir), Path.Combine(dir, Formats.Peft.PeftAdapterFolder.ConfigFile));
        Quantize(model, config, type);
        return LoraMethod.Load(model, dir);
    }

    static void Quantize(CausalLM model, LoraConfig config, QuantType type)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (type is not (QuantType.Q8_0 or QuantType.Q4_0 or QuantType.F16))
            throw new ArgumentException($"qlora: the base must be quantized to q8_0, q4_0 or f16 (got {type})");
        config.Validate();
        LoraTargets.Select(model, config);   // a target error before the weights are touched
        if (model.Linears.All(l => l.Quantized is not null)) return;
        int block = QuantTypes.BlockValues(type);
        foreach (var l in model.Linears)   // checked before any layer is converted, so a refusal leaves the model as it was
            if (l.InFeatures % block != 0)
                throw new ArgumentException($"qlora: '{l.Name}' has {l.InFeatures} input features, not a multiple of the {type} block size {block}");
        ModelQuantizer.Quantize(model, type, releaseFloatWeights: true);
    }
}
