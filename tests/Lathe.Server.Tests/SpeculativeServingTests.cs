using System.Globalization;
using Lathe.Inference;

namespace Lathe.Server.Tests;

/// <summary>A server whose engine has a draft model gives the same greedy chat completions as one without (plain,
/// streamed, and cut by a stop string), whatever the draft (the target's twin: every proposal accepted; another random
/// model: most rejected), and /metrics counts the draft's proposed and accepted tokens.</summary>
public class SpeculativeServingTests
{
    static Dictionary<int, float> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd)] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText)] = -100,
    };

    static readonly object[] Messages = [new { role = "user", content = "the whale and the ship" }];

    static async Task<List<string>> Replies(ServerHarness h)
    {
        var replies = new List<string>();
        var (status, body) = await h.PostAsync("/v1/chat/completions", new { messages = Messages, max_tokens = 24, temperature = 0, logit_bias = NoStops });
        Assert.Equal(200, status);
        string text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        replies.Add(text);
        var chunks = await h.StreamAsync("/v1/chat/completions", new { messages = Messages, max_tokens = 24, temperature = 0, logit_bias = NoStops, stream = true });
        replies.Add(string.Concat(chunks.Select(c => c.GetProperty("choices").EnumerateArray()
            .Select(ch => ch.GetProperty("delta").TryGetProperty("content", out var d) ? d.GetString() : "").FirstOrDefault())));
        Assert.True(text.Length >= 8, $"the greedy reply '{text}' is too short to cut");
        var (_, cut) = await h.PostAsync("/v1/chat/completions", new { messages = Messages, max_tokens = 24, temperature = 0, logit_bias = NoStops, stop = text.Substring(6, 2) });
        replies.Add(cut.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
        replies.Add(cut.GetProperty("choices")[0].GetProperty("finish_reason").GetString()!);
        return replies;
    }

    [Theory]
    [InlineData(7UL)]    // the target's twin
    [InlineData(9UL)]    // another random model with the same tokenizer
    public async Task Greedy_chat_with_a_draft_equals_greedy_chat_without(ulong draftSeed)
    {
        List<string> expected;
        await using (var plain = await ServerHarness.StartAsync())
            expected = await Replies(plain);
        using var draft = TinyModel.Create(draftSeed);
        await using var h = await ServerHarness.StartAsync(engine: new EngineOptions { Parallel = 4, DraftTokens = 4 }, draft: draft);
        Assert.Equal(expected, await Replies(h));
        Assert.Equal("stop", expected[^1]);

        var metrics = (await h.Http.GetStringAsync("/metrics")).Split('\n')
            .Where(l => l.StartsWith("lathe_draft_", StringComparison.Ordinal))
            .ToDictionary(l => l.Split(' ')[0], l => double.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture));
        double proposed = metrics["lathe_draft_tokens_proposed_total"], accepted = metrics["lathe_draft_tokens_accepted_total"];
        Assert.True(proposed > 0);
        if (draftSeed == 7) Assert.Equal(proposed, accepted);
        else Assert.True(accepted < proposed);
        Assert.Equal(h.Engine.Stats.DraftProposed, (long)proposed);
        Assert.True(metrics["lathe_draft_kv_blocks"] > 0);
        Assert.Equal(metrics["lathe_draft_kv_blocks"], metrics["lathe_draft_kv_blocks_free"]);   // every reply has ended
        Assert.Empty(h.Log);
    }
}
