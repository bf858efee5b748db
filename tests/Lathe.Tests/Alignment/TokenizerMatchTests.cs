using Lathe.Alignment;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Inference;
using Lathe.Tests.Tuning;
using Lathe.Tokenizers;

namespace Lathe.Tests.Alignment;

/// <summary>A reward model or judge reads the policy's token ids as they are, so one with another tokenizer is refused
/// in one line naming it; the same tokenizer passes.</summary>
public class TokenizerMatchTests
{
    [Fact]
    public void A_reward_model_with_another_tokenizer_is_refused_by_path()
    {
        var bytes = ToyTokenizer.Bytes;
        var bpe = new BpeTrainer(300, ["<|endoftext|>"], minFrequency: 1).Train(["The capital of France is Paris. I can't help with that."]);
        var config = AdapterSlotTests.Gpt2 with { VocabSize = 300 };
        using var policy = new LoadedModel(CausalLM.Create(config, 1), bpe);
        using var same = new LoadedModel(CausalLM.Create(config, 2), bpe);
        using var other = new LoadedModel(CausalLM.Create(AdapterSlotTests.Gpt2 with { VocabSize = 256 }, 3), bytes);
        TokenizerMatch.Require(policy, same, "runs/rm");
        var e = Assert.Throws<InvalidDataException>(() => TokenizerMatch.Require(policy, other, "runs/rm-other"));
        Assert.StartsWith("runs/rm-other: its tokenizer differs from the policy's", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
