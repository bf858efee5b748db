using Lathe.Inference;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Server.Tests;

/// <summary>A random-weight llama small enough to decode hundreds of tokens per second, with a byte-level BPE tokenizer
/// that has ChatML's special tokens (so the chat template's end of turn is one token, as in real chat models).</summary>
internal static class TinyModel
{
    public const string EndOfText = "<|endoftext|>", ImStart = "<|im_start|>", ImEnd = "<|im_end|>";
    public const int Vocab = 320;

    static readonly Lazy<Tokenizer> s_tokenizer = new(() => new BpeTrainer(Vocab, [EndOfText, ImStart, ImEnd], minFrequency: 1).Train(
    [
        "the whale and the ship, the sea and the sky; 12 whales!",
        "Hello there. How are you today? I am fine, thank you.",
        "user assistant system tool: call the function with arguments",
    ]));

    public static Tokenizer Tokenizer => s_tokenizer.Value;

    /// <summary>Weights spread wide enough (std 0.25) that the next-token distribution is far from uniform: greedy
    /// choices and top-k orders do not hinge on rounding.</summary>
    public static ModelConfig Config => new()
    {
        ModelType = "llama", VocabSize = Vocab, MaxPositions = 256, Embd = 32, Layers = 2, Heads = 4, KvHeads = 2,
        Intermediate = 64, TieEmbeddings = false, InitStd = 0.25f,
    };

    /// <param name="maxPositions">The context: 256 unless a test needs long prompts (tools blocks).</param>
    public static LoadedModel Create(ulong seed = 7, int maxPositions = 256)
    {
        var tokenizer = Tokenizer;
        int eos = tokenizer.SpecialTokens.First(t => t.Text == EndOfText).Id;
        return new LoadedModel(CausalLM.Create(Config with { MaxPositions = maxPositions }, seed), tokenizer, "tiny", "checkpoint",
            chatTemplate: "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}", eosId: eos);
    }

    public static int SpecialId(string text) => Tokenizer.SpecialTokens.First(t => t.Text == text).Id;
}
