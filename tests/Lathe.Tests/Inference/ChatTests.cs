using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;

namespace Lathe.Tests.Inference;

public class ChatTests
{
    static readonly ChatMessage[] Conversation =
    [
        new("system", "Be brief."), new("user", "Hi"), new("assistant", "Hello."), new("user", "Why?"),
    ];

    [Fact]
    public void ChatML_renders_each_message_and_opens_the_assistant_turn()
    {
        Assert.Equal(
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
            + "<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\n",
            ChatTemplate.Named("chatml").Render(Conversation));
    }

    [Fact]
    public void Llama2_folds_the_system_prompt_into_the_first_user_turn()
    {
        Assert.Equal("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello.</s><s>[INST] Why? [/INST]",
            ChatTemplate.Named("llama2").Render(Conversation, bos: "<s>"));
    }

    [Fact]
    public void Llama3_and_gemma_render_their_headers()
    {
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            ChatTemplate.Named("llama3").Render([new("user", "Hi")], bos: "<|begin_of_text|>"));
        Assert.Equal("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n",
            ChatTemplate.Named("gemma").Render([new("system", "Be brief."), new("user", "Hi")]));
    }

    [Theory]
    [InlineData("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>'}}{% endfor %}", "chatml")]
    [InlineData("{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>{% endfor %}", "llama3")]
    [InlineData("{% if messages[0]['role'] == 'system' %}<<SYS>>\\n{% endif %}[INST] {{ content }} [/INST]", "llama2")]
    [InlineData("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", "mistral")]
    [InlineData("<start_of_turn>user\n{{ content }}<end_of_turn>", "gemma")]
    [InlineData("<|user|>\n{{ content }}<|end|>\n<|assistant|>\n", "phi3")]
    [InlineData("<|user|>\n{{ content }}</s>\n<|assistant|>\n", "zephyr")]
    [InlineData(null, "chatml")]
    public void Template_families_are_detected_from_their_markers(string? jinja, string expected) =>
        Assert.Equal(expected, ChatTemplate.Detect(jinja).Name);

    [Fact]
    public void An_unknown_template_is_an_error_not_a_guess() =>
        Assert.Throws<InvalidDataException>(() => ChatTemplate.Detect("{{ messages | tojson }}"));

    [Fact]
    public async Task A_session_keeps_history_and_drops_the_oldest_turns_when_the_context_fills()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny") with { MaxPositions = 64 };
        var model = CausalLM.Create(config, 2);   // owned (disposed) by the LoadedModel below
        // One token per char (ids = char codes mod vocab), one byte per token.
        int[] Encode(string s) => s.Select(c => c % config.VocabSize).ToArray();
        using var loaded = new LoadedModel(model, new ToyTokenizer(config.VocabSize, Encode, id => [(byte)'x']));
        using var session = new ChatSession(loaded, ChatTemplate.Named("plain"), "S");
        var greedy = new SamplingOptions { Temperature = 0 };
        await foreach (var _ in session.ReplyAsync("hello", 5, greedy)) { }
        Assert.Equal(["system", "user", "assistant"], session.Messages.Select(m => m.Role));
        Assert.Equal("xxxxx", session.Messages[2].Content);
        // The second turn re-renders the history; only what follows the first turn's prompt (still cached) is processed.
        int firstPrompt = Encode(ChatTemplate.Named("plain").Render(session.Messages.Take(2).ToList())).Length;
        await foreach (var _ in session.ReplyAsync("again", 5, greedy)) { }
        int fullPrompt = Encode(ChatTemplate.Named("plain").Render(session.Messages.Take(4).ToList())).Length;
        Assert.Equal(fullPrompt - firstPrompt, session.PromptTokensProcessed);
        // Long messages push the oldest turns out, but the system prompt stays.
        for (int i = 0; i < 3; i++) await foreach (var _ in session.ReplyAsync(new string('q', 20), 5, greedy)) { }
        Assert.Equal("system", session.Messages[0].Role);
        Assert.DoesNotContain(session.Messages, m => m.Content == "hello");
        session.Reset();
        Assert.Single(session.Messages);
        await Assert.ThrowsAsync<ArgumentException>(async () => { await foreach (var _ in session.ReplyAsync(new string('z', 80), 5, greedy)) { } });
    }

    [Fact]
    public async Task A_reply_longer_than_the_context_allows_is_capped_and_a_long_conversation_shifts_instead_of_failing()
    {
        var config = ModelConfig.FromPresetOrFile("llama-tiny") with { MaxPositions = 64 };
        var model = CausalLM.Create(config, 2);
        int[] Encode(string s) => s.Select(c => c % config.VocabSize).ToArray();
        using var loaded = new LoadedModel(model, new ToyTokenizer(config.VocabSize, Encode, id => [(byte)'x']));
        using var session = new ChatSession(loaded, ChatTemplate.Named("plain"), "S");
        var greedy = new SamplingOptions { Temperature = 0 };
        // --max-tokens 256 against a context of 64: the first reply runs to the end of the context, not an error.
        await foreach (var _ in session.ReplyAsync("hello", 256, greedy)) { }
        int prompt = Encode(ChatTemplate.Named("plain").Render(session.Messages.Take(2).ToList())).Length;
        Assert.Equal(new TurnFit(0, 64 - prompt, 256), session.LastFit);
        Assert.True(session.LastFit.ReplyCapped);
        Assert.Equal(64 - prompt, session.Messages[2].Content.Length);   // one 'x' per generated token
        // Further turns drop the oldest messages (never the system prompt) and keep at least half the context for the
        // reply: a conversation of any length goes on.
        for (int turn = 0; turn < 4; turn++)
        {
            await foreach (var _ in session.ReplyAsync("again " + turn, 256, greedy)) { }
            Assert.True(session.LastFit.DroppedMessages > 0);
            Assert.True(session.LastFit.ReplyTokens >= 32, $"turn {turn}: {session.LastFit}");
            Assert.Equal("system", session.Messages[0].Role);
            Assert.Equal("again " + turn, session.Messages[^2].Content);
        }
        // A message that leaves no room at all is refused and does not stay in the history.
        int before = session.Messages.Count;
        await Assert.ThrowsAsync<ArgumentException>(async () => { await foreach (var _ in session.ReplyAsync(new string('z', 80), 5, greedy)) { } });
        Assert.Equal(before, session.Messages.Count);
    }
}
