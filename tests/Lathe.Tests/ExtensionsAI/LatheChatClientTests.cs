using System.Text;
using Lathe.Extensions.AI;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Inference;
using Lathe.Tokenizers;
using Lathe.Tuning;
using Microsoft.Extensions.AI;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;

namespace Lathe.Tests.ExtensionsAI;

/// <summary>The <see cref="IChatClient"/> over the engine, driven through the abstraction only. The oracle is the
/// single-sequence <see cref="Generator"/> on the prompt rendered with the chat template: the reply's text, usage and
/// finish reason must be exactly what it gives for the mapped sampling options; streaming must give the same.</summary>
public sealed class LatheChatClientTests : IDisposable
{
    // Every id decodes to one printable ASCII character, so replies are plain text that stop strings can be cut from.
    internal static readonly ToyTokenizer Ascii = new(256, s => Encoding.UTF8.GetBytes(s).Select(b => (int)b).ToArray(),
        id => [(byte)(id is >= 32 and < 127 ? id : 32 + id % 95)]);

    // llama-tiny with room for a ChatML conversation of one-byte tokens.
    internal static ModelConfig Config => ModelConfig.FromPresetOrFile("llama-tiny") with { MaxPositions = 320 };

    readonly LoadedModel _model = new(CausalLM.Create(Config, 5), Ascii, "/models/tiny-chat");
    readonly InferenceEngine _engine;
    readonly IChatClient _client;

    public LatheChatClientTests()
    {
        _engine = new InferenceEngine(_model, new EngineOptions { Parallel = 4 });
        _client = new LatheChatClient(_engine);
    }

    public void Dispose()
    {
        _client.Dispose();
        _engine.Dispose();
        _model.Dispose();
    }

    static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Name a colour."),
        new(ChatRole.Assistant, "Blue."),
        new(ChatRole.User, "Another?"),
    ];

    // The prompt as the chat template renders it (the model has no template of its own: ChatML).
    int[] Prompt(params (string Role, string Content)[] messages) =>
        _model.Encode(ChatTemplate.Named("chatml").Render(messages.Select(m => new Lathe.Formats.ChatMessage(m.Role, m.Content)).ToList()));

    static readonly (string, string)[] ConversationTuples =
        [("system", "You are terse."), ("user", "Name a colour."), ("assistant", "Blue."), ("user", "Another?")];

    string Oracle(int[] prompt, int maxTokens, SamplingOptions options, LoadedModel? model = null)
    {
        using var generator = new Generator((model ?? _model).Decoder);
        return Ascii.Decode(generator.Generate(prompt, maxTokens, options).ToArray());
    }

    [Fact]
    public async Task A_greedy_reply_is_the_generators_on_the_rendered_prompt_with_exact_usage()
    {
        var response = await _client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        int[] prompt = Prompt(ConversationTuples);
        Assert.Equal(Oracle(prompt, 12, new SamplingOptions { Temperature = 0 }), response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(prompt.Length, response.Usage!.InputTokenCount);
        Assert.Equal(12, response.Usage.OutputTokenCount);
        Assert.Equal(prompt.Length + 12, response.Usage.TotalTokenCount);
        Assert.Equal(ChatRole.Assistant, Assert.Single(response.Messages).Role);
        Assert.Equal("tiny-chat", response.ModelId);
        Assert.StartsWith("chatcmpl-", response.ResponseId);
    }

    [Fact]
    public async Task Sampling_options_map_to_the_sampler_exactly()
    {
        var options = new ChatOptions
        {
            Temperature = 0.9f, TopP = 0.8f, TopK = 30, Seed = 17, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f, MaxOutputTokens = 16,
            AdditionalProperties = new() { ["min_p"] = 0.02, ["repetition_penalty"] = 1.1f },
        };
        var response = await _client.GetResponseAsync(Conversation, options);
        var sampler = new SamplingOptions
        {
            Temperature = 0.9f, TopP = 0.8f, TopK = 30, MinP = 0.02f, RepetitionPenalty = 1.1f, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f, Seed = 17,
        };
        Assert.Equal(Oracle(Prompt(ConversationTuples), 16, sampler), response.Text);
        // Unset options are OpenAI's defaults: temperature 1, top-p 1, no top-k, no min-p.
        var plain = await _client.GetResponseAsync(Conversation, new ChatOptions { Seed = 3, MaxOutputTokens = 16 });
        Assert.Equal(Oracle(Prompt(ConversationTuples), 16, new SamplingOptions { Temperature = 1, TopP = 1, TopK = 0, MinP = 0, Seed = 3 }), plain.Text);
    }

    [Fact]
    public async Task Top_p_zero_keeps_only_the_most_likely_token()
    {
        var greedy = await _client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 12 });
        var topP = await _client.GetResponseAsync(Conversation, new ChatOptions { TopP = 0, TopK = -1, Seed = 9, MaxOutputTokens = 12 });
        Assert.Equal(greedy.Text, topP.Text);
    }

    [Theory]
    [InlineData("runs/chat/checkpoint", "chat")]
    [InlineData("/models/tiny-chat/", "tiny-chat")]
    [InlineData("FILE", "tiny")]
    public void The_default_model_id_is_the_servers(string source, string id)
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-id-" + Guid.NewGuid().ToString("N"));
        if (source == "FILE")
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(source = Path.Combine(dir, "tiny.gguf"), "");
        }
        try
        {
            using var model = new LoadedModel(CausalLM.Create(Config with { Layers = 1 }, 1), Ascii, source);
            using var engine = new InferenceEngine(model);
            Assert.Equal(id, new LatheChatClient(engine).GetService<ChatClientMetadata>()!.DefaultModelId);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task Streaming_gives_the_same_text_usage_and_finish_as_one_response_for_the_same_seed()
    {
        var options = new ChatOptions { Temperature = 1.1f, Seed = 42, MaxOutputTokens = 20 };
        var whole = await _client.GetResponseAsync(Conversation, options);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in _client.GetStreamingResponseAsync(Conversation, options)) updates.Add(u);
        Assert.True(updates.Count > 2, "the reply should arrive in several updates");
        Assert.All(updates, u => Assert.Equal(ChatRole.Assistant, u.Role));
        Assert.Single(updates, u => u.FinishReason is not null);
        Assert.NotNull(updates[^1].FinishReason);
        var streamed = updates.ToChatResponse();
        Assert.Equal(whole.Text, streamed.Text);
        Assert.Equal(whole.FinishReason, streamed.FinishReason);
        Assert.Equal(whole.Usage!.InputTokenCount, streamed.Usage!.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, streamed.Usage.OutputTokenCount);
        Assert.Equal(whole.Usage.TotalTokenCount, streamed.Usage.TotalTokenCount);
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        // The same seed again: the same reply; another seed: another.
        Assert.Equal(whole.Text, (await _client.GetResponseAsync(Conversation, options)).Text);
        Assert.NotEqual(whole.Text, (await _client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 1.1f, Seed = 43, MaxOutputTokens = 20 })).Text);
    }

    [Fact]
    public async Task A_stop_sequence_ends_the_reply_before_it_with_finish_reason_stop()
    {
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 30 };
        string full = (await _client.GetResponseAsync(Conversation, greedy)).Text;
        string stop = full.Substring(6, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        greedy.StopSequences = [stop, "never appears"];
        var response = await _client.GetResponseAsync(Conversation, greedy);
        Assert.Equal(expected, response.Text);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var u in _client.GetStreamingResponseAsync(Conversation, greedy)) updates.Add(u);
        Assert.Equal(expected, updates.ToChatResponse().Text);
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
        // Every generated token is counted, the stop string's included (what the model produced; one character each here).
        Assert.Equal(expected.Length + stop.Length, response.Usage!.OutputTokenCount);
    }

    [Fact]
    public async Task Instructions_join_the_system_message()
    {
        ChatMessage[] user = [new(ChatRole.User, "Hi.")];
        var withInstructions = await _client.GetResponseAsync(user, new ChatOptions { Temperature = 0, MaxOutputTokens = 8, Instructions = "Be kind." });
        var explicitSystem = await _client.GetResponseAsync([new(ChatRole.System, "Be kind."), .. user], new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        Assert.Equal(explicitSystem.Text, withInstructions.Text);
        Assert.Equal(Prompt(("system", "Be kind."), ("user", "Hi.")).Length, withInstructions.Usage!.InputTokenCount);
        var joined = await _client.GetResponseAsync([new(ChatRole.System, "Be brief."), .. user], new ChatOptions { Temperature = 0, MaxOutputTokens = 8, Instructions = "Be kind." });
        Assert.Equal(Prompt(("system", "Be kind.\n\nBe brief."), ("user", "Hi.")).Length, joined.Usage!.InputTokenCount);
    }

    [Fact]
    public async Task Without_max_output_tokens_the_reply_fills_the_context()
    {
        var response = await _client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0 });
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(_engine.ContextLength, response.Usage!.TotalTokenCount);
    }

    [Fact]
    public async Task Unsupported_and_invalid_options_are_one_line_errors()
    {
        var tools = new ChatOptions { Tools = [AIFunctionFactory.Create(() => 1, "one")] };
        Assert.Contains("Tools", (await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync(Conversation, tools))).Message);
        var json = new ChatOptions { ResponseFormat = ChatResponseFormat.Json };
        Assert.Contains("ResponseFormat", (await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync(Conversation, json))).Message);
        await _client.GetResponseAsync(Conversation, new ChatOptions { ResponseFormat = ChatResponseFormat.Text, MaxOutputTokens = 2 });   // text is fine

        var stops = new ChatOptions { StopSequences = ["a", "b", "c", "d", "e"] };
        Assert.StartsWith("ChatOptions.StopSequences: at most 4", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync(Conversation, stops))).Message);
        var model = new ChatOptions { ModelId = "gpt-4o" };
        Assert.Equal("ChatOptions.ModelId: no model named 'gpt-4o' (this client serves tiny-chat).",
            (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync(Conversation, model))).Message);
        var tooLong = new ChatOptions { MaxOutputTokens = 1000 };
        Assert.StartsWith("ChatOptions.MaxOutputTokens: the prompt's", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync(Conversation, tooLong))).Message);
        var zero = new ChatOptions { MaxOutputTokens = 0 };
        Assert.Equal("ChatOptions.MaxOutputTokens: 0 must be ≥ 1.", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync(Conversation, zero))).Message);
        var huge = new ChatMessage(ChatRole.User, new string('x', 400));
        Assert.StartsWith("messages: the prompt takes", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync([huge]))).Message);
        var topP = new ChatOptions { TopP = 1.5f };
        Assert.Contains("top-p", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync(Conversation, topP))).Message);
        var role = new ChatMessage(new ChatRole("narrator"), "Once upon a time.");
        Assert.StartsWith("messages[0].Role: 'narrator'", (await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync([role]))).Message);
        var image = new ChatMessage(ChatRole.User, [new DataContent(new byte[] { 1, 2, 3 }, "image/png")]);
        Assert.Contains("DataContent", (await Assert.ThrowsAsync<NotSupportedException>(() => _client.GetResponseAsync([image]))).Message);
        await Assert.ThrowsAsync<ArgumentException>(() => _client.GetResponseAsync([]));
    }

    [Fact]
    public async Task Cancelling_a_stream_stops_it_and_frees_its_sequence()
    {
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in _client.GetStreamingResponseAsync(Conversation, new ChatOptions { MaxOutputTokens = 60, Seed = 1 }, cancel.Token))
                if (++seen == 3) cancel.Cancel();
        });
        Assert.True(seen >= 3);
        for (int i = 0; i < 200 && _engine.Stats.RunningSequences > 0; i++) await Task.Delay(10);
        var stats = _engine.Stats;
        Assert.Equal(0, stats.RunningSequences);
        Assert.Equal(stats.KvBlocks, stats.KvBlocksFree + stats.KvBlocksCached);
    }

    [Fact]
    public void Metadata_names_the_provider_and_the_model()
    {
        var metadata = _client.GetService<ChatClientMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("lathe", metadata.ProviderName);
        Assert.Equal("tiny-chat", metadata.DefaultModelId);
        Assert.Same(_engine, _client.GetService<InferenceEngine>());
        Assert.Same(_client, _client.GetService<IChatClient>());
        Assert.Null(_client.GetService(typeof(ChatClientMetadata), serviceKey: "other"));
        Assert.Null(_client.GetService<IEmbeddingGenerator<string, Embedding<float>>>());
    }

    [Fact]
    public async Task The_model_id_selects_an_adapter()
    {
        string dir = Path.Combine(Path.GetTempPath(), "lathe-chat-lora-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var scratch = CausalLM.Create(Config, 5))
            using (var lora = LoraMethod.Attach(scratch, new LoraConfig { Rank = 4, Alpha = 16, TargetModules = ["q_proj", "v_proj"], InitLoraWeights = "false" }, seed: 2))
                lora.Save(dir);
            using var model = new LoadedModel(CausalLM.Create(Config, 5), Ascii, "/models/tiny-chat");
            using var adapters = new AdapterSet(model.Model);
            adapters.Add("tuned", dir);
            using var engine = new InferenceEngine(model, new EngineOptions { Parallel = 2 }, adapters);
            IChatClient client = new LatheChatClient(engine, modelId: "base");
            var greedy = new SamplingOptions { Temperature = 0 };
            int[] prompt = Prompt(ConversationTuples);

            var tuned = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 10, ModelId = "tuned" });
            var plain = await client.GetResponseAsync(Conversation, new ChatOptions { Temperature = 0, MaxOutputTokens = 10, ModelId = "base" });
            Assert.Equal("tuned", tuned.ModelId);
            Assert.Equal("base", plain.ModelId);
            Assert.Equal(Oracle(prompt, 10, greedy), plain.Text);   // the base's reply, the adapter detached
            using (var alone = new LoadedModel(CausalLM.Create(Config, 5), Ascii))
            using (AdapterFiles.Attach(alone.Model, dir))
                Assert.Equal(Oracle(prompt, 10, greedy, alone), tuned.Text);
            Assert.NotEqual(plain.Text, tuned.Text);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
    }

    // A tokenizer with the template's end of turn as one special token (id 255, a byte UTF-8 text never holds).
    sealed class EndOfTurnTokenizer : ITokenizer
    {
        const string EndOfTurn = "<|im_end|>";
        public int VocabSize => 256;
        public int EndOfTextId => -1;
        public IReadOnlyList<(string Text, int Id)> SpecialTokens => [(EndOfTurn, 255)];
        public List<int> Encode(string text, bool allowSpecial = true)
        {
            var ids = new List<int>();
            var parts = allowSpecial ? text.Split(EndOfTurn) : [text];
            for (int i = 0; i < parts.Length; i++)
            {
                if (i > 0) ids.Add(255);
                ids.AddRange(Encoding.UTF8.GetBytes(parts[i]).Select(b => (int)b));
            }
            return ids;
        }
        public void Encode(string text, List<int> ids) => ids.AddRange(Encode(text));
        public List<Lathe.Tokenizers.Token> EncodeWithOffsets(string text, bool allowSpecial = true) => throw new NotSupportedException();
        public byte[] DecodeBytes(IEnumerable<int> ids) => Ascii.DecodeBytes(ids);
        public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(DecodeBytes(ids));
        public void Save(string path) => throw new NotSupportedException();
    }

    [Fact]
    public void The_end_of_turn_stops_as_a_token_when_the_tokenizer_has_it_else_as_text()
    {
        var chatml = ChatTemplate.Named("chatml");
        var asText = new ChatRequestMapper(_engine, chatml, "m").Map(Conversation, new ChatOptions { StopSequences = ["Q:"] });
        Assert.Equal(["Q:", "<|im_end|>"], asText.StopStrings);
        Assert.Empty(asText.StopTokens);

        using var model = new LoadedModel(CausalLM.Create(Config, 5), new EndOfTurnTokenizer());
        using var engine = new InferenceEngine(model);
        var asToken = new ChatRequestMapper(engine, chatml, "m").Map(Conversation, new ChatOptions { StopSequences = ["Q:"] });
        Assert.Equal(["Q:"], asToken.StopStrings);
        Assert.Equal([255], asToken.StopTokens);
        Assert.Equal(4, asToken.Prompt.Count(t => t == 255));   // the rendered turns' ends are that token in the prompt too
    }
}
