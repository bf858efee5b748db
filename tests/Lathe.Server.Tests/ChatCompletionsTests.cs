using System.Text;
using System.Text.Json;

namespace Lathe.Server.Tests;

/// <summary>POST /v1/chat/completions over real HTTP: OpenAI's response shape, exact usage against a hand-written ChatML
/// prompt, seeds, n, stop strings, lengths, and log-probabilities against the model's own log-softmax.</summary>
[Collection("server")]
public class ChatCompletionsTests(SharedServer shared)
{
    ServerHarness H => shared.Harness;
    const string Chat = "/v1/chat/completions";

    /// <summary>Keeps the random model from ending a reply early, so that lengths are exact.</summary>
    static Dictionary<string, int> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100,
    };

    static object[] Conversation => [new { role = "system", content = "You are terse." }, new { role = "user", content = "Hello there." }];

    int PromptTokens(params (string, string)[] messages) => H.Model.Encode(Oracle.ChatMl(messages)).Length;

    [Fact]
    public async Task A_reply_has_OpenAIs_shape_and_exact_usage()
    {
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var (status, body) = await H.PostAsync(Chat, new { model = "tiny", messages = Conversation, max_tokens = 8, seed = 1, logit_bias = NoStops });
        Assert.Equal(200, status);
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.Equal("tiny", body.GetProperty("model").GetString());
        Assert.InRange(body.GetProperty("created").GetInt64(), before, before + 60);
        var choice = Assert.Single(body.GetProperty("choices").EnumerateArray());
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.String, choice.GetProperty("message").GetProperty("content").ValueKind);
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        var usage = body.GetProperty("usage");
        int prompt = PromptTokens(("system", "You are terse."), ("user", "Hello there."));
        Assert.Equal(prompt, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(8, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(prompt + 8, usage.GetProperty("total_tokens").GetInt32());
        Assert.InRange(usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), 0, prompt);
    }

    [Fact]
    public async Task A_repeated_prompt_reports_its_cached_tokens()
    {
        var messages = new[] { new { role = "system", content = "You answer questions about whales, ships and the sea, briefly." }, new { role = "user", content = "Which whale?" } };
        var (_, first) = await H.PostAsync(Chat, new { messages, max_tokens = 2 });
        var (_, second) = await H.PostAsync(Chat, new { messages, max_tokens = 2 });
        var usage = second.GetProperty("usage");
        int prompt = usage.GetProperty("prompt_tokens").GetInt32(), cached = usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.Equal(first.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), prompt);
        Assert.True(prompt >= 2 * H.Engine.Stats.KvBlockSize, $"the prompt ({prompt} tokens) should fill at least two KV blocks");
        // Whole blocks of the prompt came from the prefix cache; at least its last token is always computed.
        Assert.InRange(cached, H.Engine.Stats.KvBlockSize, prompt - 1);
        Assert.Equal(0, cached % H.Engine.Stats.KvBlockSize);
    }

    [Fact]
    public async Task The_same_seed_gives_the_same_choices_and_choice_i_draws_from_seed_plus_i()
    {
        var request = new { messages = Conversation, max_tokens = 10, n = 3, seed = 42, temperature = 1.0, logit_bias = NoStops };
        var (_, a) = await H.PostAsync(Chat, request);
        var (_, b) = await H.PostAsync(Chat, request);
        string[] first = Contents(a), second = Contents(b);
        Assert.Equal(3, first.Length);
        Assert.Equal(first, second);
        Assert.Equal([0, 1, 2], a.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        Assert.True(first.Distinct().Count() >= 2, "three sampled choices at temperature 1 were all the same");
        // GenerationRequest's contract: choice i samples with seed + i, whatever else runs.
        var (_, single) = await H.PostAsync(Chat, new { messages = Conversation, max_tokens = 10, seed = 43, temperature = 1.0, logit_bias = NoStops });
        Assert.Equal(first[1], Contents(single)[0]);
        Assert.Equal(30, a.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Log_probabilities_are_the_models_log_softmax_and_the_top_ones_its_most_likely_tokens()
    {
        var (status, body) = await H.PostAsync(Chat, new
        {
            messages = new[] { new { role = "user", content = "the whale" } }, max_tokens = 6, seed = 3, temperature = 1.0,
            logprobs = true, top_logprobs = 5,
        });
        Assert.Equal(200, status);
        var choice = body.GetProperty("choices")[0];
        var content = choice.GetProperty("logprobs").GetProperty("content").EnumerateArray().ToList();
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), content.Count);
        Assert.NotEmpty(content);
        var ids = H.Model.Encode(Oracle.ChatMl(("user", "the whale"))).ToList();
        int prompt = ids.Count;
        var replyBytes = new List<byte>();
        foreach (var entry in content)
        {
            byte[] bytes = Bytes(entry);
            int id = Oracle.IdOfBytes(H.Model, bytes);
            replyBytes.AddRange(bytes);
            double[] oracle = Oracle.LogSoftmax(H.Model, [.. ids])[^1];
            Assert.Equal(oracle[id], entry.GetProperty("logprob").GetDouble(), 1e-4);
            var top = entry.GetProperty("top_logprobs").EnumerateArray().ToList();
            Assert.Equal(5, top.Count);
            int[] expectedTop = Enumerable.Range(0, oracle.Length).OrderByDescending(v => oracle[v]).Take(5).ToArray();
            Assert.Equal(expectedTop, top.Select(t => Oracle.IdOfBytes(H.Model, Bytes(t))));
            for (int k = 0; k < 5; k++) Assert.Equal(oracle[expectedTop[k]], top[k].GetProperty("logprob").GetDouble(), 1e-4);
            Assert.True(top.Sum(t => Math.Exp(t.GetProperty("logprob").GetDouble())) <= 1 + 1e-6);
            if (System.Text.Unicode.Utf8.IsValid(bytes)) Assert.Equal(Encoding.UTF8.GetString(bytes), entry.GetProperty("token").GetString());
            ids.Add(id);
        }
        // The reply is those tokens' text (it ran to max_tokens or ended at a stop token, which is not reported).
        Assert.Equal(Encoding.UTF8.GetString([.. replyBytes]), choice.GetProperty("message").GetProperty("content").GetString());
        Assert.True(ids.Count > prompt);
    }

    [Fact]
    public async Task A_stream_carries_the_same_choices_as_a_whole_reply_and_ends_with_usage()
    {
        var request = new Dictionary<string, object>
        {
            ["messages"] = Conversation, ["max_tokens"] = 12, ["n"] = 2, ["seed"] = 9, ["logit_bias"] = NoStops,
        };
        var (_, whole) = await H.PostAsync(Chat, request);
        request["stream"] = true;
        request["stream_options"] = new { include_usage = true };
        var chunks = await H.StreamAsync(Chat, request);
        string id = chunks[0].GetProperty("id").GetString()!;
        Assert.StartsWith("chatcmpl-", id);
        foreach (var c in chunks)
        {
            Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString());
            Assert.Equal(id, c.GetProperty("id").GetString());
        }
        // Every chunk but the last says "usage": null; the last has no choices and the usage.
        Assert.All(chunks.SkipLast(1), c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Empty(chunks[^1].GetProperty("choices").EnumerateArray());
        Usage.AssertSame(whole.GetProperty("usage"), chunks[^1].GetProperty("usage"));
        var wholeChoices = whole.GetProperty("choices").EnumerateArray().ToList();
        for (int i = 0; i < 2; i++)
        {
            var mine = chunks.SkipLast(1).SelectMany(c => c.GetProperty("choices").EnumerateArray()).Where(c => c.GetProperty("index").GetInt32() == i).ToList();
            Assert.Equal("assistant", mine[0].GetProperty("delta").GetProperty("role").GetString());
            Assert.All(mine.Skip(1), c => Assert.False(c.GetProperty("delta").TryGetProperty("role", out _)));
            string text = string.Concat(mine.Select(c => c.GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : ""));
            Assert.Equal(wholeChoices[i].GetProperty("message").GetProperty("content").GetString(), text);
            var finishes = mine.Where(c => c.GetProperty("finish_reason").ValueKind != JsonValueKind.Null).ToList();
            Assert.Single(finishes);
            Assert.Equal(wholeChoices[i].GetProperty("finish_reason").GetString(), finishes[0].GetProperty("finish_reason").GetString());
            Assert.Equal(mine[^1].GetRawText(), finishes[0].GetRawText());
        }
    }

    [Fact]
    public async Task Streamed_log_probabilities_equal_the_whole_replys()
    {
        var request = new Dictionary<string, object>
        {
            ["messages"] = Conversation, ["max_tokens"] = 8, ["seed"] = 5, ["logprobs"] = true, ["top_logprobs"] = 2,
        };
        var (_, whole) = await H.PostAsync(Chat, request);
        request["stream"] = true;
        var chunks = await H.StreamAsync(Chat, request);
        var streamed = chunks.SelectMany(c => c.GetProperty("choices").EnumerateArray())
            .Where(c => c.GetProperty("logprobs").ValueKind == JsonValueKind.Object)
            .SelectMany(c => c.GetProperty("logprobs").GetProperty("content").EnumerateArray())
            .Select(e => e.GetRawText()).ToList();
        var expected = whole.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray().Select(e => e.GetRawText());
        Assert.Equal(expected, streamed);
        Assert.False(chunks[0].TryGetProperty("usage", out _), "usage appears only when stream_options.include_usage is set");
    }

    [Fact]
    public async Task A_stop_string_ends_the_reply_just_before_it()
    {
        var greedy = new { messages = Conversation, max_tokens = 24, temperature = 0, logit_bias = NoStops };
        var (_, free) = await H.PostAsync(Chat, greedy);
        string text = Contents(free)[0];
        Assert.True(text.Length >= 6, $"the greedy reply '{text}' is too short to cut");
        string stop = text.Substring(4, 2);
        string expected = text[..text.IndexOf(stop, StringComparison.Ordinal)];
        foreach (object stopField in new object[] { stop, new[] { "never-appears-1", stop } })
        {
            var (status, body) = await H.PostAsync(Chat, new { messages = Conversation, max_tokens = 24, temperature = 0, logit_bias = NoStops, stop = stopField });
            Assert.Equal(200, status);
            Assert.Equal(expected, Contents(body)[0]);
            Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }
    }

    [Fact]
    public async Task The_end_of_turn_token_ends_the_reply_with_finish_stop()
    {
        var bias = new Dictionary<string, int> { [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = 100 };
        var (status, body) = await H.PostAsync(Chat, new { messages = Conversation, max_tokens = 5, logit_bias = bias });
        Assert.Equal(200, status);
        Assert.Equal("", Contents(body)[0]);
        Assert.Equal("stop", body.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(0, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Max_completion_tokens_wins_over_max_tokens_and_no_limit_fills_the_context()
    {
        var (_, a) = await H.PostAsync(Chat, new { messages = Conversation, max_completion_tokens = 3, max_tokens = 7, logit_bias = NoStops });
        Assert.Equal(3, a.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        var (_, b) = await H.PostAsync(Chat, new { messages = Conversation, logit_bias = NoStops, temperature = 0 });
        int prompt = b.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Assert.Equal(H.Engine.ContextLength - prompt, b.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", b.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task Text_parts_are_joined_and_developer_is_the_system_role()
    {
        var (status, body) = await H.PostAsync(Chat, new
        {
            messages = new object[]
            {
                new { role = "developer", content = "Be brief." },
                new { role = "user", content = new[] { new { type = "text", text = "one" }, new { type = "text", text = "two" } } },
                new { role = "assistant", content = "ok" },
                new { role = "tool", content = "42", tool_call_id = "call_1" },
                new { role = "user", content = "again" },
            },
            max_tokens = 1,
        });
        Assert.Equal(200, status);
        // A tool result is a user turn holding <tool_response> (the Hermes/Qwen convention, docs/CONSTRAINED_DECODING.md).
        int expected = PromptTokens(("system", "Be brief."), ("user", "one\ntwo"), ("assistant", "ok"), ("user", "<tool_response>\n42\n</tool_response>"), ("user", "again"));
        Assert.Equal(expected, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    static string[] Contents(JsonElement body) =>
        body.GetProperty("choices").EnumerateArray().Select(c => c.GetProperty("message").GetProperty("content").GetString()!).ToArray();

    static byte[] Bytes(JsonElement entry) => entry.GetProperty("bytes").EnumerateArray().Select(b => (byte)b.GetInt32()).ToArray();
}
