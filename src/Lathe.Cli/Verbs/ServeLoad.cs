using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Lathe.Cli.Verbs;

/// <summary>Drives an OpenAI-compatible server the way concurrent chat users do: each client sends streaming
/// completion requests one after another, and every streamed token's arrival time is recorded. From those: aggregate
/// generated tokens/s, time to first token (request sent → first token) and inter-token latency (gap between a
/// stream's consecutive tokens), as medians and 99th percentiles. Used by `bench serve` and the load test.</summary>
internal static class ServeLoad
{
    /// <summary>What one client count produced.</summary>
    public sealed record Result(int Clients, int Requests, long Tokens, double Seconds, double TokensPerSecond,
        double TtftP50Ms, double TtftP99Ms, double ItlP50Ms, double ItlP99Ms, int Failures);

    /// <summary>The request body for client <paramref name="client"/>'s request <paramref name="index"/>.</summary>
    public delegate string Body(int client, int index);

    /// <summary>Runs <paramref name="clients"/> clients, each sending <paramref name="requestsPerClient"/> streaming
    /// requests to <paramref name="path"/> (chat or completions) back to back.</summary>
    public static async Task<Result> RunAsync(HttpClient http, string path, int clients, int requestsPerClient, Body body, CancellationToken cancel = default)
    {
        var ttft = new List<double>();
        var itl = new List<double>();
        long tokens = 0;
        int failures = 0, requests = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            for (int i = 0; i < requestsPerClient && !cancel.IsCancellationRequested; i++)
            {
                var (ok, first, gaps, count) = await StreamOnce(http, path, body(c, i), cancel).ConfigureAwait(false);
                lock (ttft)
                {
                    requests++;
                    if (!ok) { failures++; continue; }
                    tokens += count;
                    if (first >= 0) ttft.Add(first);
                    itl.AddRange(gaps);
                }
            }
        })).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        return new Result(clients, requests, tokens, seconds, tokens / seconds,
            Percentile(ttft, 0.50), Percentile(ttft, 0.99), Percentile(itl, 0.50), Percentile(itl, 0.99), failures);
    }

    /// <summary>Sends one streaming request; returns whether it succeeded, the ms to its first token, the ms between
    /// tokens, and the tokens (content deltas) received.</summary>
    public static async Task<(bool Ok, double FirstMs, List<double> GapsMs, int Tokens)> StreamOnce(HttpClient http, string path, string body, CancellationToken cancel)
    {
        var gaps = new List<double>();
        double first = -1, last = 0;
        int count = 0, reported = -1;
        var clock = Stopwatch.StartNew();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return (false, -1, gaps, 0);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false));
            while (await reader.ReadLineAsync(cancel).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                string data = line[6..];
                if (data == "[DONE]") break;
                var (tokens, usage) = CountTokens(data);
                if (usage >= 0) reported = usage;
                if (tokens == 0) continue;
                double now = clock.Elapsed.TotalMilliseconds;
                if (first < 0) first = now;
                else gaps.Add((now - last) / tokens);
                last = now;
                count += tokens;
            }
            return (true, first, gaps, reported >= 0 ? reported : count);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return (false, -1, gaps, count);
        }
    }

    // A chunk's text-carrying choices (the times of tokens), and the usage's completion tokens when the chunk has them
    // (stream_options.include_usage: the exact count, whatever text was held back or merged).
    static (int Chunks, int Usage) CountTokens(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        int usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("completion_tokens", out var ct) ? ct.GetInt32() : -1;
        if (!root.TryGetProperty("choices", out var choices)) return (0, usage);
        int n = 0;
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String) n++;
            else if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String) n++;
        }
        return (n, usage);
    }

    static double Percentile(List<double> values, double q)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        double rank = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }
}
