using System.ClientModel;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using MeaiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using MeaiChatRole = Microsoft.Extensions.AI.ChatRole;
using MeaiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;

namespace Lathe.Server.Tests;

/// <summary>The official OpenAI .NET client (OpenAI 2.14, through Microsoft.Extensions.AI.OpenAI 11) against the server:
/// what it reads — text, usage, finish reason, embeddings, log-probabilities — equals the server's raw HTTP answer to the
/// same request (seeded), and the embeddings equal the engine's own vectors. The raw answers are checked against the
/// model itself in ChatCompletionsTests / EmbeddingsTests; here the oracle is the wire, so a field the client misreads
/// or the server misnames shows up as a difference.</summary>
[Collection("server")]
public class DotnetOpenAiClientTests(SharedServer shared)
{
    ServerHarness H => shared.Harness;
    const string Chat = "/v1/chat/completions", Prompt = "the whale and the ship";

    OpenAIClient Client => new(new ApiKeyCredential("unused-key"), new OpenAIClientOptions { Endpoint = new Uri(H.Server.Address, "/v1") });

    IChatClient ChatClient => Client.GetChatClient(ServerHarness.ModelId).AsIChatClient();

    static readonly int[] StopIds = [TinyModel.SpecialId(TinyModel.ImEnd), TinyModel.SpecialId(TinyModel.EndOfText)];

    /// <summary>Keeps the model from ending its turn, so that max_tokens decides the length.</summary>
    static Dictionary<string, int> NoStops => StopIds.ToDictionary(id => id.ToString(), _ => -100);

    static ChatCompletionOptions WithoutStops()
    {
        var options = new ChatCompletionOptions();
        foreach (int id in StopIds) options.LogitBiases[id] = -100;
        return options;
    }

    /// <summary>The same request as raw JSON: what the client's answer must equal.</summary>
    async Task<JsonElement> Raw(Dictionary<string, object> fields)
    {
        fields["messages"] = new[] { new { role = "user", content = Prompt } };
        var (status, body) = await H.PostAsync(Chat, fields);
        Assert.Equal(200, status);
        return body;
    }

    static void AssertUsage(JsonElement expected, UsageDetails? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.GetProperty("prompt_tokens").GetInt32(), actual.InputTokenCount);
        Assert.Equal(expected.GetProperty("completion_tokens").GetInt32(), actual.OutputTokenCount);
        Assert.Equal(expected.GetProperty("total_tokens").GetInt32(), actual.TotalTokenCount);
    }

    static MeaiFinishReason Finish(JsonElement raw) => raw.GetProperty("choices")[0].GetProperty("finish_reason").GetString() switch
    {
        "stop" => MeaiFinishReason.Stop, "length" => MeaiFinishReason.Length, var other => throw new Xunit.Sdk.XunitException($"finish {other}"),
    };

    static string Text(JsonElement raw) => raw.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

    [Fact]
    public async Task GetResponseAsync_reads_the_servers_text_usage_and_finish_reason()
    {
        var options = new ChatOptions { MaxOutputTokens = 12, Seed = 11, Temperature = 0.9f, TopP = 0.95f };
        var response = await ChatClient.GetResponseAsync([new MeaiChatMessage(MeaiChatRole.User, Prompt)], options);
        var raw = await Raw(new() { ["max_tokens"] = 12, ["seed"] = 11, ["temperature"] = 0.9, ["top_p"] = 0.95 });
        Assert.Equal(Text(raw), response.Text);
        Assert.False(string.IsNullOrEmpty(response.Text));
        AssertUsage(raw.GetProperty("usage"), response.Usage);
        Assert.Equal(Finish(raw), response.FinishReason);
        Assert.StartsWith("chatcmpl-", response.ResponseId);
        Assert.Equal(ServerHarness.ModelId, response.ModelId);
    }

    [Fact]
    public async Task GetStreamingResponseAsync_gives_the_same_text_usage_and_finish_as_a_whole_reply()
    {
        var options = new ChatOptions { MaxOutputTokens = 10, Seed = 4, Temperature = 1.0f, RawRepresentationFactory = _ => WithoutStops() };
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in ChatClient.GetStreamingResponseAsync([new MeaiChatMessage(MeaiChatRole.User, Prompt)], options))
            updates.Add(update);
        Assert.True(updates.Count > 2, "the reply came in one piece, not streamed");
        var response = updates.ToChatResponse();
        var raw = await Raw(new() { ["max_tokens"] = 10, ["seed"] = 4, ["temperature"] = 1.0, ["logit_bias"] = NoStops });
        Assert.Equal(Text(raw), response.Text);
        AssertUsage(raw.GetProperty("usage"), response.Usage);   // the client asks for stream_options.include_usage itself
        Assert.Equal(MeaiFinishReason.Length, response.FinishReason);
        Assert.Equal(MeaiFinishReason.Length, Finish(raw));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
    }

    [Fact]
    public async Task MaxOutputTokens_ends_with_Length_after_that_many_tokens()
    {
        var options = new ChatOptions { MaxOutputTokens = 5, Seed = 2, RawRepresentationFactory = _ => WithoutStops() };
        var response = await ChatClient.GetResponseAsync([new MeaiChatMessage(MeaiChatRole.User, Prompt)], options);
        Assert.Equal(MeaiFinishReason.Length, response.FinishReason);
        Assert.Equal(5, response.Usage!.OutputTokenCount);
        var raw = await Raw(new() { ["max_tokens"] = 5, ["seed"] = 2, ["logit_bias"] = NoStops });
        Assert.Equal(Text(raw), response.Text);
    }

    [Fact]
    public async Task StopSequences_cut_the_text_before_the_stop_and_finish_with_Stop()
    {
        // Find a stop string the seeded reply really contains: two characters from the middle of its unstopped text.
        var free = await Raw(new() { ["max_tokens"] = 24, ["seed"] = 8, ["logit_bias"] = NoStops });
        string full = Text(free);
        Assert.True(full.Length >= 8, $"reply too short to pick a stop from: '{full}'");
        string stop = full.Substring(full.Length / 2, 2);
        int cut = full.IndexOf(stop, StringComparison.Ordinal);

        var options = new ChatOptions { MaxOutputTokens = 24, Seed = 8, StopSequences = [stop], RawRepresentationFactory = _ => WithoutStops() };
        var response = await ChatClient.GetResponseAsync([new MeaiChatMessage(MeaiChatRole.User, Prompt)], options);
        Assert.Equal(full[..cut], response.Text);
        Assert.Equal(MeaiFinishReason.Stop, response.FinishReason);
        var raw = await Raw(new() { ["max_tokens"] = 24, ["seed"] = 8, ["logit_bias"] = NoStops, ["stop"] = new[] { stop } });
        Assert.Equal(Text(raw), response.Text);
        AssertUsage(raw.GetProperty("usage"), response.Usage);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_reply_and_another_seed_another()
    {
        async Task<string> Ask(int seed) => (await ChatClient.GetResponseAsync([new MeaiChatMessage(MeaiChatRole.User, Prompt)],
            new ChatOptions { MaxOutputTokens = 16, Seed = seed, Temperature = 1.5f, RawRepresentationFactory = _ => WithoutStops() })).Text;
        string a = await Ask(21), b = await Ask(21), c = await Ask(22);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public async Task Embeddings_through_the_generator_equal_the_engines_vectors()
    {
        string[] inputs = ["the whale", "Hello there. How are you?", "12 whales!"];
        IEmbeddingGenerator<string, Embedding<float>> generator = Client.GetEmbeddingClient(ServerHarness.ModelId).AsIEmbeddingGenerator();
        var embeddings = await generator.GenerateAsync(inputs);
        float[][] expected = await H.Engine.EmbedAsync(inputs.Select(t => H.Model.Encode(t)).ToArray());
        Assert.Equal(inputs.Length, embeddings.Count);
        for (int i = 0; i < inputs.Length; i++)
            Assert.Equal(expected[i], embeddings[i].Vector.ToArray());   // bit for bit (the client asks for base64 float32)
        Assert.Equal(inputs.Sum(t => H.Model.Encode(t).Length), embeddings.Usage!.InputTokenCount);

        var shortened = await generator.GenerateAsync(["the whale"], new EmbeddingGenerationOptions { Dimensions = 8 });
        Assert.Equal(8, shortened[0].Vector.Length);
    }

    [Fact]
    public async Task CompleteChatAsync_reads_the_log_probabilities_the_server_sends()
    {
        var options = WithoutStops();
        options.MaxOutputTokenCount = 6;
#pragma warning disable OPENAI001   // Seed is marked experimental in the client; it is sent all the same
        options.Seed = 3;
#pragma warning restore OPENAI001
        options.IncludeLogProbabilities = true;
        options.TopLogProbabilityCount = 3;
        ChatCompletion completion = await Client.GetChatClient(ServerHarness.ModelId).CompleteChatAsync([new UserChatMessage(Prompt)], options);
        var raw = await Raw(new() { ["max_tokens"] = 6, ["seed"] = 3, ["logit_bias"] = NoStops, ["logprobs"] = true, ["top_logprobs"] = 3 });
        var expected = raw.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(Text(raw), completion.Content[0].Text);
        Assert.Equal(6, completion.ContentTokenLogProbabilities.Count);
        Assert.Equal(expected.Count, completion.ContentTokenLogProbabilities.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            var mine = completion.ContentTokenLogProbabilities[i];
            Assert.Equal(expected[i].GetProperty("token").GetString(), mine.Token);
            Assert.Equal(expected[i].GetProperty("logprob").GetSingle(), mine.LogProbability);
            Assert.True(mine.LogProbability <= 0f);
            Assert.Equal(3, mine.TopLogProbabilities.Count);
            var top = expected[i].GetProperty("top_logprobs").EnumerateArray().ToList();
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(top[k].GetProperty("token").GetString(), mine.TopLogProbabilities[k].Token);
                Assert.Equal(top[k].GetProperty("logprob").GetSingle(), mine.TopLogProbabilities[k].LogProbability);
            }
            // Descending, and the chosen token's log-probability is at most the best one.
            Assert.True(mine.TopLogProbabilities[0].LogProbability >= mine.TopLogProbabilities[2].LogProbability);
            Assert.True(mine.LogProbability <= mine.TopLogProbabilities[0].LogProbability);
        }
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(raw.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), completion.Usage.OutputTokenCount);
    }
}
