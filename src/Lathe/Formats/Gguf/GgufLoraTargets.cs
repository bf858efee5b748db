using Lathe.Models;

namespace Lathe.Formats;

/// <summary>One dense projection a llama.cpp LoRA adapter can target: the Hugging Face module name PEFT uses
/// ("model.layers.0.self_attn.q_proj", "transformer.h.0.attn.c_attn", "lm_head"), the GGUF base tensor llama.cpp
/// attaches the pair to ("blk.0.attn_q.weight"), the projection's shape, and — for llama q/k — the head count whose
/// rows ggml's RoPE order permutes (<see cref="GgufRope"/>; 0 for every other projection).</summary>
public readonly record struct GgufLoraTarget(string Module, string Tensor, int OutFeatures, int InFeatures, int RopeHeads);

/// <summary>The projections of a model that a GGUF LoRA adapter can carry, in file order. Derived from the very table
/// the GGUF model loader reads weights with, so an adapter names exactly the tensors a GGUF export of the same model
/// has: llama q/k/v/o, gate/up/down and an untied lm_head ("output.weight"); gpt2 c_attn ("attn_qkv"), c_proj, c_fc
/// and mlp.c_proj. A tied head has no tensor of its own in GGUF, so llama.cpp cannot attach a LoRA to it.</summary>
public static class GgufLoraTargets
{
    public static IReadOnlyList<GgufLoraTarget> For(ModelConfig config)
    {
        if (config.ModelType is not ("llama" or "gpt2"))
            throw new ArgumentException($"GGUF LoRA: model_type '{config.ModelType}' has no llama.cpp architecture here (llama, gpt2).", nameof(config));
        var targets = new List<GgufLoraTarget>();
        foreach (var slot in GgufModelLoader.Plan(config))
        {
            if (!slot.Linear) continue;
            // Parameters are named "<module>.weight"; ggml dims are (in, out).
            targets.Add(new GgufLoraTarget(slot.Parameter[..^".weight".Length], slot.Tensor,
                OutFeatures: (int)slot.Dims[1], InFeatures: (int)slot.Dims[0], slot.RopeHeads));
        }
        return targets;
    }
}
