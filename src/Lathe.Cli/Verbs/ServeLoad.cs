using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Lathe.Cli.Verbs;

/// <summary>Drives an OpenAI-compatible server the way concurrent chat users do: each client sends streaming
/// requests one after another, and every streamed token's arrival time is recorded on one clock. From those:
/// aggregate generated tokens/s (whole run, and the steady decoding window once every stream has started), time to
/// first token (request sent → first token) and inter-token latency (gap between a stream's consecutive tokens), as
/// medians and 99th percentiles.</summary>
internal static class ServeLoad
{
    /// <summary>What one client count produced.</summary>
    public sealed record Result(int Clients, int Requests, long Tokens, double Seconds, double TokensPerSecond,
        double DecodeTokensPerSecond, double TtftP50Ms, double TtftP99Ms, double ItlP50Ms, double ItlP99Ms, int Failures);

    /// <summary>The request body for client <paramref name="client"/>'s request <paramref name="index"/>.</summary>
    public delegate string Body(int client, int index);

    /// <summary>One streamed request: when it was sent, when each content chunk arrived (ms on the run's clock), and
    /// the completion tokens the usage reported (or the chunks counted when it reported none).</summary>
    public sealed record Stream(bool Ok, double SentMs, List<double> ArrivalsMs, int Tokens);

    /// <summary>Runs <paramref name="clients"/> clients, each sending <paramref name="requestsPerClient"/> streaming
    /// requests to <paramref name="path"/> back to back.</summary>
    public static async Task<Result> RunAsync(HttpClient http, string path, int clients, int requestsPerClient, Body body, CancellationToken cancel = default)
    {
        var streams = new List<Stream>();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            for (int i = 0; i < requestsPerClient && !cancel.IsCancellationRequested; i++)
            {
                var s = await StreamOnce(http, path, body(c, i), clock, cancel).ConfigureAwait(false);
                lock (streams) streams.Add(s);
            }
        })).ConfigureAwait(false);
        double seconds = clock.Elapsed.TotalSeconds;
        var ok = streams.Where(s => s.Ok && s.ArrivalsMs.Count > 0).ToList();
        long tokens = ok.Sum(s => (long)s.Tokens);
        var ttft = ok.Select(s => s.ArrivalsMs[0] - s.SentMs).ToList();
        var itl = ok.SelectMany(s => s.ArrivalsMs.Zip(s.ArrivalsMs.Skip(1), (a, b) => b - a)).ToList();
        // The steady window (as llama.cpp's parallel peer measures): from the moment every stream has its first token
        // to the last token, the tokens that arrived in it. Meaningful for one request per client.
        double decode = double.NaN;
        if (ok.Count > 0)
        {
            double start = ok.Max(s => s.ArrivalsMs[0]), end = ok.Max(s => s.ArrivalsMs[^1]);
            long inWindow = ok.Sum(s => (long)s.ArrivalsMs.Count(t => t > start));
            if (end > start) decode = inWindow / ((end - start) / 1000);
        }
        return new Result(clients, streams.Count, tokens, seconds, tokens / seconds, decode,
            Percentile(ttft, 0.50), Percentile(ttft, 0.99), Percentile(itl, 0.50), Percentile(itl, 0.99), streams.Count - ok.Count);
    }

    /// <summary>Sends one streaming request and records its chunks' arrival times on <paramref name="clock"/>.</summary>
    public static async Task<Stream> StreamOnce(HttpClient http, string path, string body, Stopwatch clock, CancellationToken cancel)
    {
        var arrivals = new List<double>();
        double sent = clock.Elapsed.TotalMilliseconds;
        int reported = -1;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) return new Stream(false, sent, arrivals, 0);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false));
            bool done = false;
            while (await reader.ReadLineAsync(cancel).ConfigureAwait(false) is { } line)
            {
                if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
                string data = line[6..];
                if (data == "[DONE]") { done = true; break; }
                var (chunks, usage) = Parse(data);
                if (usage >= 0) reported = usage;
                double now = clock.Elapsed.TotalMilliseconds;
                for (int i = 0; i < chunks; i++) arrivals.Add(now);
            }
            return new Stream(done, sent, arrivals, reported >= 0 ? reported : arrivals.Count);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException)
        {
            return new Stream(false, sent, arrivals, arrivals.Count);
        }
    }

    // A chunk's choices that carry text, and the usage's completion tokens when the chunk has them
    // (stream_options.include_usage: the exact count, whatever text was held back or merged).
    static (int Chunks, int Usage) Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        int usage = root.TryGetProperty("usage", out var u) && u.ValueKind == JsonValueKind.Object && u.TryGetProperty("completion_tokens", out var ct) ? ct.GetInt32() : -1;
        if (!root.TryGetProperty("choices", out var choices)) return (0, usage);
        int n = 0;
        foreach (var choice in choices.EnumerateArray())
        {
            if (choice.TryGetProperty("delta", out var delta) && delta.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String && content.GetString()!.Length > 0) n++;
            else if (choice.TryGetProperty("text", out var text) && text.ValueKind == JsonValueKind.String && text.GetString()!.Length > 0) n++;
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
