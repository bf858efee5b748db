using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>llama.cpp's "qwen2" architecture (Qwen1.5, Qwen2, Qwen2.5): the Llama block with biases on the q, k and v
/// projections (not on o_proj), keys under <c>qwen2.*</c>, NEOX RoPE — rotate_half pairs (i, i + D/2), so the q/k rows
/// are stored in Hugging Face's order and not permuted — and usually a head tied to token_embd. Runs as a Lathe llama
/// model with <see cref="ModelConfig.AttentionQkvBias"/>. llama.cpp passes no RoPE frequency factors for qwen2 and reads
/// no sliding window for it.</summary>
internal sealed class GgufQwen2 : IGgufArchitecture
{
    public string Name => "qwen2";

    public ModelConfig ReadConfig(GgufFile file, int contextLength) =>
        Validated(file, GgufLlama.ReadLayoutConfig(file, "qwen2", contextLength, VocabSize(file, "qwen2")) with { AttentionQkvBias = true });

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c) => GgufLlama.Layout(c, ggmlRopeOrder: false);
}
