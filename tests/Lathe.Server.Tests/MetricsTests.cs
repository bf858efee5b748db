using System.Globalization;
using System.Text;
using Lathe.Server.Metrics;

namespace Lathe.Server.Tests;

/// <summary>/metrics in Prometheus' text format: request counts by endpoint and status, the engine's token totals and
/// gauges, and the latency and batch histograms, each checked against what the test itself sent.</summary>
public class MetricsTests
{
    static Dictionary<string, int> NoStops => new()
    {
        [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100,
        [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100,
    };

    [Fact]
    public async Task The_exposition_counts_what_was_sent()
    {
        await using var h = await ServerHarness.StartAsync();
        var messages = new[] { new { role = "user", content = "Hello there." } };
        int prompt = 0, generated = 0;
        for (int i = 0; i < 2; i++)
        {
            var (_, body) = await h.PostAsync("/v1/chat/completions", new { messages, max_tokens = 5, logit_bias = NoStops });
            prompt += body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
            generated += body.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        }
        var chunks = await h.StreamAsync("/v1/chat/completions", new { messages, max_tokens = 5, logit_bias = NoStops, stream = true, stream_options = new { include_usage = true } });
        prompt += chunks[^1].GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        generated += chunks[^1].GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        Assert.Equal(400, (await h.PostAsync("/v1/chat/completions", new { messages = "hi" })).Status);
        Assert.Equal(200, (await h.PostAsync("/v1/embeddings", new { input = "hi" })).Status);

        using var response = await h.Http.GetAsync("/metrics");
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var m = Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(3, m["lathe_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}"]);
        Assert.Equal(1, m["lathe_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"}"]);
        Assert.Equal(1, m["lathe_requests_total{endpoint=\"/v1/embeddings\",status=\"200\"}"]);
        Assert.Equal(3, m["lathe_engine_requests_total"]);
        Assert.Equal(prompt, m["lathe_prompt_tokens_total"]);
        Assert.Equal(generated, m["lathe_generated_tokens_total"]);
        Assert.Equal(15, generated);
        Assert.Equal(0, m["lathe_running_sequences"]);
        Assert.Equal(0, m["lathe_queue_depth"]);
        Assert.Equal(m["lathe_kv_blocks"], m["lathe_kv_blocks_free"] + m["lathe_kv_blocks_cached"]);
        // One first token per request; the other four tokens of each are gaps between tokens.
        Assert.Equal(3, m["lathe_time_to_first_token_seconds_count"]);
        Assert.Equal(12, m["lathe_inter_token_latency_seconds_count"]);
        Assert.Equal(m["lathe_engine_steps_total"], m["lathe_batch_size_count"]);
        Assert.True(m["lathe_batch_size_count"] > 0);
        foreach (string h2 in new[] { "lathe_time_to_first_token_seconds", "lathe_inter_token_latency_seconds", "lathe_batch_size", "lathe_request_duration_seconds" })
        {
            var buckets = m.Where(p => p.Key.StartsWith(h2 + "_bucket{", StringComparison.Ordinal)).Select(p => p.Value).ToList();
            Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First <= p.Second), $"{h2} buckets are not cumulative");
            Assert.Equal(m[h2 + "_count"], m[h2 + "_bucket{le=\"+Inf\"}"]);
        }
    }

    [Fact]
    public void A_histogram_writes_cumulative_buckets_sum_and_count()
    {
        var h = new Histogram("x_seconds", "Test.", 0.1, 1, 10);
        foreach (double v in new[] { 0.05, 0.1, 0.5, 2, 2, 50 }) h.Observe(v);
        var s = new StringBuilder();
        h.WriteTo(s);
        Assert.Equal("""
            # HELP x_seconds Test.
            # TYPE x_seconds histogram
            x_seconds_bucket{le="0.1"} 2
            x_seconds_bucket{le="1"} 3
            x_seconds_bucket{le="10"} 5
            x_seconds_bucket{le="+Inf"} 6
            x_seconds_sum 54.65
            x_seconds_count 6

            """.Replace("\r", ""), s.ToString());
    }

    [Fact]
    public async Task Concurrent_observations_are_all_counted()
    {
        var h = new Histogram("y", "Test.", 1);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => { for (int i = 0; i < 10_000; i++) h.Observe(0.5); })));
        Assert.Equal(40_000, h.Count);
        Assert.Equal(20_000, h.Sum);
    }

    // "name{labels} value" lines into a map (comments skipped).
    static Dictionary<string, double> Parse(string text)
    {
        var result = new Dictionary<string, double>();
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            int space = line.LastIndexOf(' ');
            result[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }
        return result;
    }
}
