using Lathe.Data;
using Lathe.Formats;
using Lathe.Tests.Inference;
using Lathe.Tokenizers;

namespace Lathe.Tests.Data;

/// <summary>Conversations to ids and a loss mask: the prompt's ids are what inference encodes for the same prompt,
/// exactly the reply and its end of turn are trainable, and overlong conversations are counted.</summary>
public class SftEncoderTests
{
    const string Corpus = "user assistant system What is the capital of France? Paris. Rome. Italy and France, capitals; "
        + "What is 17 + 25? 42. Be brief. hello there";

    internal static Tokenizer ChatTokenizer() =>
        new BpeTrainer(330, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], minFrequency: 1).Train([Corpus, Corpus]);

    static readonly ChatMessage[] Prompt =
        [new("system", "Be brief."), new("user", "What is the capital of Italy?"), new("assistant", "Rome."), new("user", "And of France?")];

    static int[] Where(SftExample e, bool trainable) => e.Ids.Where((_, i) => e.Trainable[i] == trainable).ToArray();

    [Fact]
    public void ChatML_with_a_byte_level_BPE_trains_exactly_the_replies_and_keeps_the_inference_prompt()
    {
        var tokenizer = ChatTokenizer();
        var template = ChatTemplate.Named("chatml");
        var encoder = new SftEncoder(template, tokenizer, bosId: null, context: 256, OverlongPolicy.Truncate);
        var e = encoder.Encode([.. Prompt, new("assistant", "Paris.")]);
        // The ids are the whole text's, and they are also the concatenation of the pieces' ids: every boundary
        // falls on a special token or a pre-token split.
        var pieces = template.RenderForTraining([.. Prompt, new("assistant", "Paris.")]);
        Assert.Equal(tokenizer.Encode(string.Concat(pieces.Select(p => p.Text))), e.Ids);
        Assert.Equal(pieces.SelectMany(p => tokenizer.Encode(p.Text)), e.Ids);
        // The ids before the last reply are the ids inference encodes for the prompt.
        int[] prompt = tokenizer.Encode(template.Render(Prompt)).ToArray();
        Assert.Equal(prompt, e.Ids[..prompt.Length]);
        Assert.Equal("Paris.<|im_end|>", tokenizer.Decode(e.Ids[prompt.Length..]));
        Assert.All(e.Trainable[prompt.Length..], Assert.True);
        // Trainable overall: both replies with their ends, nothing else.
        Assert.Equal("Rome.<|im_end|>Paris.<|im_end|>", tokenizer.Decode(Where(e, true)));
        int imEnd = tokenizer.SpecialTokens.Single(s => s.Text == "<|im_end|>").Id;
        Assert.Equal(2, Where(e, true).Count(id => id == imEnd));
        Assert.Equal(3, Where(e, false).Count(id => id == imEnd));   // the system's and the users' ends are not trained
    }

    [Fact]
    public void Mistral_with_a_SentencePiece_tokenizer_keeps_the_space_with_the_reply()
    {
        // SentencePiece prefixes ▁ to every text it is given: encoding " Paris.</s>" alone would differ from the
        // whole conversation's ids; the whole-text encoding gives the prompt's own ids and then the reply's.
        using var file = GgufFile.Open(GgufParityTests.Fixture("spm-f16.gguf"));
        var tokenizer = GgufTokenizer.Read(file);
        var template = ChatTemplate.Named("mistral");
        var encoder = new SftEncoder(template, tokenizer, bosId: 1, context: 256, OverlongPolicy.Truncate);
        ChatMessage[] prompt = [new("user", "What is the capital of France?")];
        var e = encoder.Encode([.. prompt, new("assistant", "Paris.")]);
        int[] promptIds = ((ITokenizer)tokenizer).Encode(template.Render(prompt)).ToArray();
        Assert.Equal(1, e.Ids[0]);                        // BOS once: the tokenizer adds it, the encoder does not repeat it
        Assert.NotEqual(1, e.Ids[1]);
        Assert.Equal(promptIds, e.Ids[..promptIds.Length]);
        Assert.All(e.Trainable[..promptIds.Length], Assert.False);
        Assert.All(e.Trainable[promptIds.Length..], Assert.True);
        Assert.Equal(2, e.Ids[^1]);                       // </s> parsed as the EOS token, and trained
        Assert.Equal("Paris.", tokenizer.Decode(e.Ids[promptIds.Length..^1]).Trim());
    }

    [Fact]
    public void BOS_is_put_first_once_and_never_trained()
    {
        var tokenizer = ChatTokenizer();
        int bos = tokenizer.SpecialTokens.Single(s => s.Text == "<|endoftext|>").Id;
        var encoder = new SftEncoder(ChatTemplate.Named("chatml"), tokenizer, bos, 256, OverlongPolicy.Truncate);
        var e = encoder.Encode([new("user", "hello"), new("assistant", "there")]);
        Assert.Equal(bos, e.Ids[0]);
        Assert.NotEqual(bos, e.Ids[1]);
        Assert.False(e.Trainable[0]);
        Assert.Equal("there<|im_end|>", tokenizer.Decode(Where(e, true)));
    }

    [Theory]
    [InlineData(OverlongPolicy.Truncate)]
    [InlineData(OverlongPolicy.Drop)]
    public void Overlong_conversations_are_truncated_or_dropped_and_counted(OverlongPolicy policy)
    {
        var tokenizer = ChatTokenizer();
        var template = ChatTemplate.Named("chatml");
        ChatMessage[] shortOne = [new("user", "hello"), new("assistant", "there")];
        ChatMessage[] longOne = [new("user", "What is the capital of France?"), new("assistant", string.Join(" ", Enumerable.Repeat("Paris.", 40)))];
        ChatMessage[] hopeless = [new("user", string.Join(" ", Enumerable.Repeat("What is the capital of France?", 20))), new("assistant", "Paris.")];
        var full = new SftEncoder(template, tokenizer, null, 4096, policy);
        int shortLength = full.Encode(shortOne).Ids.Length;
        int context = shortLength + 20;
        Assert.True(full.Encode(longOne).Ids.Length > context + 1);
        var encoder = new SftEncoder(template, tokenizer, null, context, policy);
        var (examples, stats) = encoder.EncodeAll([new("a:1", shortOne), new("a:2", longOne), new("a:3", hopeless)]);
        Assert.Equal(3, stats.Conversations);
        Assert.Equal(2, stats.Overlong);
        if (policy == OverlongPolicy.Drop)
        {
            Assert.Equal((1, 0, 2), (stats.Examples, stats.Truncated, stats.Dropped));
        }
        else
        {
            // The long reply is cut to the context + 1 tokens, keeping its start; the one whose reply lies wholly past
            // the cut has nothing left to learn and is dropped — counted either way.
            Assert.Equal((2, 1, 1), (stats.Examples, stats.Truncated, stats.Dropped));
            Assert.Equal(context + 1, examples[1].Ids.Length);
            Assert.Equal(full.Encode(longOne).Ids[..(context + 1)], examples[1].Ids);
        }
        Assert.Equal(examples.Sum(x => x.Ids.Length), stats.Tokens);
        Assert.Contains($"{stats.Dropped} dropped", stats.ToString());
    }
}

public class ValidationSplitTests
{
    [Fact]
    public void A_seeded_fraction_is_held_out_the_same_way_every_time()
    {
        var items = Enumerable.Range(0, 200).ToArray();
        var (train, validation) = ValidationSplit.Split(items, 0.1, seed: 7);
        Assert.Equal(20, validation.Count);
        Assert.Equal(items, train.Concat(validation).Order());                 // a partition
        Assert.Equal(validation.Order(), validation);                          // the given order kept
        Assert.Equal(validation, ValidationSplit.Split(items, 0.1, seed: 7).Validation);
        Assert.NotEqual(validation, ValidationSplit.Split(items, 0.1, seed: 8).Validation);
        Assert.Single(ValidationSplit.Split(items[..3], 0.01, 1).Validation);   // a nonzero fraction holds out at least one
        Assert.Empty(ValidationSplit.Split(items, 0, 1).Validation);
        Assert.Throws<ArgumentException>(() => ValidationSplit.Split(items, 1.0, 1));
        Assert.Throws<ArgumentException>(() => ValidationSplit.Split(items[..1], 0.5, 1));
    }
}
