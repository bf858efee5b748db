using Lathe.Formats;

namespace Lathe.Tests.Formats;

/// <summary>The training rendering of every template family: the same text inference renders, with only the
/// assistant's replies and their end-of-turn markers trainable.</summary>
public class ChatTemplateTrainingTests
{
    // What each family writes after the prompt for the reply "Paris." (the family's reply lead + reply + turn end),
    // spelled out here rather than taken from the template so the test is an independent statement.
    public static TheoryData<string, string> Replies => new()
    {
        { "chatml", "Paris.<|im_end|>" },
        { "llama3", "Paris.<|eot_id|>" },
        { "llama2", " Paris.</s>" },
        { "mistral", " Paris.</s>" },
        { "zephyr", "Paris.</s>" },
        { "phi3", "Paris.<|end|>" },
        { "gemma", "Paris.<end_of_turn>" },
        { "plain", " Paris.\n" },
    };

    static readonly ChatMessage[] Prompt =
    [
        new("system", "Be brief."), new("user", "Capital of Italy?"), new("assistant", "Rome."), new("user", "And of France?"),
    ];

    [Theory]
    [MemberData(nameof(Replies))]
    public void Training_pieces_are_the_inference_prompt_then_the_trainable_reply(string family, string reply)
    {
        var template = ChatTemplate.Named(family);
        foreach (string? bos in new[] { null, "<s>" })
        {
            var pieces = template.RenderForTraining([.. Prompt, new("assistant", "Paris.")], bos);
            string prompt = template.Render(Prompt, bos);
            Assert.Equal(prompt + reply, string.Concat(pieces.Select(p => p.Text)));
            Assert.True(pieces[^1].Trainable);
            Assert.Equal(reply, pieces[^1].Text);
            Assert.Equal(reply, template.RenderForTraining([.. Prompt, new("assistant", "Paris.")], bos)[^1].Text);
            Assert.EndsWith(template.TurnEnd, reply);
            // The earlier reply is trainable too, and nothing but the replies is.
            var trainable = pieces.Where(p => p.Trainable).Select(p => p.Text).ToArray();
            Assert.Equal(2, trainable.Length);
            Assert.Equal(reply.Replace("Paris.", "Rome."), trainable[0]);
            for (int i = 1; i < pieces.Count; i++) Assert.NotEqual(pieces[i - 1].Trainable, pieces[i].Trainable);
        }
    }

    [Theory]
    [MemberData(nameof(Replies))]
    public void A_single_exchange_without_system_agrees_too(string family, string reply)
    {
        var template = ChatTemplate.Named(family);
        ChatMessage[] prompt = [new("user", "Capital of France?")];
        var pieces = template.RenderForTraining([.. prompt, new("assistant", "Paris.")]);
        Assert.Equal(2, pieces.Count);
        Assert.Equal(new ChatPiece(template.Render(prompt), false), pieces[0]);
        Assert.Equal(new ChatPiece(reply, true), pieces[1]);
    }

    [Fact]
    public void The_rendering_of_a_history_is_unchanged_by_the_shared_writer()
    {
        // Render of a history with an assistant turn is the training text plus what follows the last turn.
        var template = ChatTemplate.Named("chatml");
        ChatMessage[] history = [new("user", "Hi"), new("assistant", "Hello.")];
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>assistant\n", template.Render(history));
        Assert.Equal("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>",
            string.Concat(template.RenderForTraining(history).Select(p => p.Text)));
    }
}
