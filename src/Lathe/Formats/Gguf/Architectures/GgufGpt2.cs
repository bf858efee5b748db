using Lathe.Models;
using static Lathe.Formats.GgufMetadata;

namespace Lathe.Formats;

/// <summary>GPT-2 as llama.cpp's "gpt2" architecture (what <see cref="GgufExport"/> writes): learned positions, so the
/// context is the file's; LayerNorm with biases; the head must be tied to token_embd (Lathe's GPT-2 always ties).</summary>
internal sealed class GgufGpt2 : IGgufArchitecture
{
    public string Name => "gpt2";

    public ModelConfig ReadConfig(GgufFile file, int contextLength)
    {
        if (HasTensor(file, "output.weight"))
            throw new InvalidDataException($"{file.Path}: tensor 'output.weight': a gpt2 head separate from token_embd is not supported.");
        int heads = Int(file, "gpt2.attention.head_count");
        int? headDim = HeadDim(file, "gpt2", Int(file, "gpt2.embedding_length"), heads);
        int vocab = file.Metadata.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is object[] list ? list.Length
            : HasTensor(file, "token_embd.weight") ? (int)file.Get("token_embd.weight").Dims[^1]
            : throw new InvalidDataException($"{file.Path}: tensor 'token_embd.weight' is missing.");
        var config = new ModelConfig
        {
            ModelType = "gpt2",
            VocabSize = vocab,
            MaxPositions = Int(file, "gpt2.context_length"),
            Embd = Int(file, "gpt2.embedding_length"),
            Layers = Int(file, "gpt2.block_count"),
            Heads = heads,
            KvHeads = heads,
            Intermediate = Int(file, "gpt2.feed_forward_length"),
            NormEps = (float)Real(file, "gpt2.attention.layer_norm_epsilon", 1e-5),
            TieEmbeddings = true,
        };
        if (headDim is int d) config = config with { HeadDim = d };
        return Validated(file, config);
    }

    public IEnumerable<GgufTensorSlot> Plan(ModelConfig c)
    {
        int C = c.Embd, D = c.HeadDim, F = c.Intermediate, V = c.VocabSize;
        // Lathe keeps Conv1D weights (out, in) in memory, which is ggml's row layout.
        yield return new("token_embd.weight", "transformer.wte.weight", [C, V]);
        yield return new("position_embd.weight", "transformer.wpe.weight", [C, c.MaxPositions]);
        for (int l = 0; l < c.Layers; l++)
        {
            string g = $"blk.{l}.", h = $"transformer.h.{l}.";
            yield return new(g + "attn_norm.weight", h + "ln_1.weight", [C]);
            yield return new(g + "attn_norm.bias", h + "ln_1.bias", [C]);
            yield return new(g + "attn_qkv.weight", h + "attn.c_attn.weight", [C, 3 * c.Heads * D], Linear: true);
            yield return new(g + "attn_qkv.bias", h + "attn.c_attn.bias", [3 * c.Heads * D]);
            yield return new(g + "attn_output.weight", h + "attn.c_proj.weight", [c.Heads * D, C], Linear: true);
            yield return new(g + "attn_output.bias", h + "attn.c_proj.bias", [C]);
            yield return new(g + "ffn_norm.weight", h + "ln_2.weight", [C]);
            yield return new(g + "ffn_norm.bias", h + "ln_2.bias", [C]);
            yield return new(g + "ffn_up.weight", h + "mlp.c_fc.weight", [C, F], Linear: true);
            yield return new(g + "ffn_up.bias", h + "mlp.c_fc.bias", [F]);
            yield return new(g + "ffn_down.weight", h + "mlp.c_proj.weight", [F, C], Linear: true);
            yield return new(g + "ffn_down.bias", h + "mlp.c_proj.bias", [C]);
        }
        yield return new("output_norm.weight", "transformer.ln_f.weight", [C]);
        yield return new("output_norm.bias", "transformer.ln_f.bias", [C]);
    }
}
