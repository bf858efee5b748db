using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.Tests;

/// <summary>What concurrency and departing clients do: a client that disconnects mid-stream frees its sequences and KV
/// blocks, a full queue is 429 with OpenAI's error object (never a 5xx), and the other requests are served.</summary>
public class LoadTests
{
    static Dictionary<string, int> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100,
    };

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_sequences_and_kv_blocks()
    {
        await using var h = await ServerHarness.StartAsync();
        long before = h.Engine.Stats.GeneratedTokens;
        const int Choices = 4, MaxTokens = 240;
        var body = ServerHarness.Json(new { prompt = "the whale", max_tokens = MaxTokens, n = Choices, stream = true, logit_bias = NoStops });
        using (var cancel = new CancellationTokenSource())
        {
            using var response = await h.Http.SendAsync(h.Request(HttpMethod.Post, "/v1/completions", body), HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            string? first = await reader.ReadLineAsync(cancel.Token);
            Assert.StartsWith("data: {", first);
            cancel.Cancel();   // the client goes away after the first token
        }
        var stats = await WaitFor(h.Engine, s => s.RunningSequences == 0 && s.Queued == 0, TimeSpan.FromSeconds(10));
        Assert.Equal(stats.KvBlocks, stats.KvBlocksFree + stats.KvBlocksCached);
        Assert.True(stats.GeneratedTokens - before < Choices * MaxTokens,
            $"the engine generated all {Choices * MaxTokens} tokens: the disconnect did not stop it");
        // The server noticed: the request is counted as cancelled, and it still serves.
        // (The handler counts it when its write fails, which can come a moment after the engine has freed the
        // sequence: poll the metrics rather than read them once.)
        const string cancelled = "lathe_requests_cancelled_total{endpoint=\"/v1/completions\"} 1";
        string metrics = await h.Http.GetStringAsync("/metrics");
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !metrics.Contains(cancelled) && clock.Elapsed < TimeSpan.FromSeconds(10); )
        {
            await Task.Delay(20);
            metrics = await h.Http.GetStringAsync("/metrics");
        }
        Assert.Contains(cancelled, metrics);
        Assert.Equal(200, (await h.PostAsync("/v1/completions", new { prompt = "hi", max_tokens = 2 })).Status);
        Assert.Empty(h.Log);
    }

    [Fact]
    public async Task A_full_queue_is_429_and_every_other_request_is_served()
    {
        await using var h = await ServerHarness.StartAsync(engine: new EngineOptions { Parallel = 1, QueueCapacity = 0 });
        var body = new { messages = new[] { new { role = "user", content = "hi" } }, max_tokens = 200, logit_bias = NoStops };
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => h.PostAsync("/v1/chat/completions", body)));
        Assert.All(results, r => Assert.True(r.Status is 200 or 429, $"status {r.Status}: {r.Body}"));
        Assert.Contains(results, r => r.Status == 200);
        var busy = Assert.Single(results.Where(r => r.Status == 429).Take(1));
        Assert.Equal("rate_limit_exceeded", busy.Body.GetProperty("error").GetProperty("code").GetString());
        Assert.All(results.Where(r => r.Status == 200), r => Assert.Equal(200, r.Body.GetProperty("usage").GetProperty("completion_tokens").GetInt32()));
        await WaitFor(h.Engine, s => s.RunningSequences == 0 && s.Queued == 0, TimeSpan.FromSeconds(10));
        Assert.Empty(h.Log);
    }

    static async Task<EngineStats> WaitFor(InferenceEngine engine, Func<EngineStats, bool> done, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var stats = engine.Stats;
            if (done(stats)) return stats;
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"the engine did not settle: {JsonSerializer.Serialize(stats)}");
            await Task.Delay(20);
        }
    }
}
