using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using Lathe.Inference;

namespace Lathe.Server.Metrics;

/// <summary>What /metrics reports. Requests by endpoint and status are counted by the server as responses complete;
/// token totals, queue depth, running sequences and KV blocks are the engine's own figures read at scrape time; the
/// batch size comes from the engine's step event; time to first token and inter-token latency are measured in the
/// server as each token's event reaches the request (what a client sees, less the network).</summary>
public sealed class ServerMetrics
{
    readonly ConcurrentDictionary<(string Endpoint, int Status), StrongBox<long>> _requests = new();
    readonly ConcurrentDictionary<string, StrongBox<long>> _cancelled = new();

    /// <summary>Seconds from a request's arrival to its first generated token.</summary>
    public Histogram TimeToFirstToken { get; } = new("lathe_time_to_first_token_seconds",
        "Seconds from a generation request's arrival to its first token.", 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60);

    /// <summary>Seconds between consecutive tokens of one choice.</summary>
    public Histogram InterTokenLatency { get; } = new("lathe_inter_token_latency_seconds",
        "Seconds between consecutive tokens of one choice.", 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56);

    /// <summary>Seconds from a request's arrival to its last byte.</summary>
    public Histogram RequestDuration { get; } = new("lathe_request_duration_seconds",
        "Seconds from a request's arrival to its response's end.", 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300);

    /// <summary>Sequences advanced per engine step.</summary>
    public Histogram BatchSize { get; } = new("lathe_batch_size",
        "Sequences advanced together in one engine step.", 1, 2, 4, 8, 16, 32, 64, 128, 256);

    /// <summary>Token rows (prompt chunks and decode tokens) per engine step.</summary>
    public Histogram StepRows { get; } = new("lathe_step_rows",
        "Token rows (prompt chunks and decode tokens) computed in one engine step.", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024);

    public Histogram StepDuration { get; } = new("lathe_step_duration_seconds",
        "Seconds one engine step took.", 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56);

    public void CountRequest(string endpoint, int status) =>
        Interlocked.Increment(ref _requests.GetOrAdd((endpoint, status), _ => new StrongBox<long>()).Value);

    public void CountCancelled(string endpoint) =>
        Interlocked.Increment(ref _cancelled.GetOrAdd(endpoint, _ => new StrongBox<long>()).Value);

    /// <summary>Requests counted so far for <paramref name="endpoint"/> and <paramref name="status"/>.</summary>
    public long Requests(string endpoint, int status) =>
        _requests.TryGetValue((endpoint, status), out var box) ? Interlocked.Read(ref box.Value) : 0;

    /// <summary>Records one engine step (subscribe to <see cref="InferenceEngine.StepCompleted"/>).</summary>
    public void OnStep(StepInfo step)
    {
        BatchSize.Observe(step.Sequences);
        StepRows.Observe(step.Rows);
        StepDuration.Observe(step.Seconds);
    }

    /// <summary>The whole exposition; <paramref name="engine"/> is null while the model loads.</summary>
    public string Exposition(EngineStats? engine)
    {
        var s = new StringBuilder(4096);
        Prometheus.Header(s, "lathe_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
        foreach (var ((endpoint, status), box) in _requests.OrderBy(p => p.Key.Endpoint, StringComparer.Ordinal).ThenBy(p => p.Key.Status))
            s.Append("lathe_requests_total{endpoint=\"").Append(Prometheus.Label(endpoint)).Append("\",status=\"").Append(status)
             .Append("\"} ").Append(Interlocked.Read(ref box.Value)).Append('\n');
        Prometheus.Header(s, "lathe_requests_cancelled_total", "counter", "Requests whose client went away before the response ended.");
        foreach (var (endpoint, box) in _cancelled.OrderBy(p => p.Key, StringComparer.Ordinal))
            s.Append("lathe_requests_cancelled_total{endpoint=\"").Append(Prometheus.Label(endpoint)).Append("\"} ").Append(Interlocked.Read(ref box.Value)).Append('\n');
        if (engine is { } e)
        {
            Prometheus.Single(s, "lathe_engine_requests_total", "counter", "Generation requests the engine accepted.", e.Requests);
            Prometheus.Single(s, "lathe_prompt_tokens_total", "counter", "Prompt tokens of accepted requests.", e.PromptTokens);
            Prometheus.Single(s, "lathe_cached_prompt_tokens_total", "counter", "Prompt tokens whose keys and values came from the prefix cache.", e.CachedPromptTokens);
            Prometheus.Single(s, "lathe_generated_tokens_total", "counter", "Tokens generated.", e.GeneratedTokens);
            Prometheus.Single(s, "lathe_engine_steps_total", "counter", "Engine steps run.", e.Steps);
            Prometheus.Single(s, "lathe_draft_tokens_proposed_total", "counter", "Draft tokens proposed (speculative decoding).", e.DraftProposed);
            Prometheus.Single(s, "lathe_draft_tokens_accepted_total", "counter", "Draft tokens accepted (speculative decoding).", e.DraftAccepted);
            Prometheus.Single(s, "lathe_queue_depth", "gauge", "Requests waiting for a slot.", e.Queued);
            Prometheus.Single(s, "lathe_running_sequences", "gauge", "Sequences (choices) decoding now.", e.RunningSequences);
            Prometheus.Single(s, "lathe_kv_blocks", "gauge", "Blocks in the KV cache pool.", e.KvBlocks);
            Prometheus.Single(s, "lathe_kv_blocks_free", "gauge", "KV blocks free.", e.KvBlocksFree);
            Prometheus.Single(s, "lathe_kv_blocks_cached", "gauge", "KV blocks held only by the prefix cache (evictable).", e.KvBlocksCached);
            Prometheus.Single(s, "lathe_kv_blocks_used", "gauge", "KV blocks held by running sequences.", e.KvBlocks - e.KvBlocksFree - e.KvBlocksCached);
            Prometheus.Single(s, "lathe_kv_block_size", "gauge", "Tokens per KV block.", e.KvBlockSize);
            if (e.DraftKvBlocks > 0)
            {
                Prometheus.Single(s, "lathe_draft_kv_blocks", "gauge", "Blocks in the draft model's KV pool (speculative decoding).", e.DraftKvBlocks);
                Prometheus.Single(s, "lathe_draft_kv_blocks_free", "gauge", "Draft KV blocks free.", e.DraftKvBlocksFree);
            }
        }
        foreach (var h in new[] { TimeToFirstToken, InterTokenLatency, RequestDuration, BatchSize, StepRows, StepDuration }) h.WriteTo(s);
        return s.ToString();
    }
}
