using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Server;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe bench serve`: starts the server in this process on 127.0.0.1 and drives it over HTTP with N
/// concurrent streaming clients (`/v1/completions`, greedy, the end-of-sequence ids banned by logit_bias so every
/// stream generates exactly --gen-tokens), for each N in --clients. Each client sends --requests requests back to back;
/// each prompt is --prompt-tokens token ids of its own (no prefix shared between clients). Prints a JSON line per client
/// count: aggregate generated tokens/s over the whole run and over the steady window once every stream has started
/// (the window llama.cpp's parallel peer measures), time to first token and inter-token latency p50/p99, failures,
/// peak RSS.</summary>
internal static class BenchServe
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder, Hugging Face folder or .gguf file.", Required = true };
        var clients = new Option<string>("--clients") { Description = "Concurrent streaming clients, a comma-separated list.", DefaultValueFactory = _ => "1,4,16,64" };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length of each request.", DefaultValueFactory = _ => 128 };
        var genTokens = new Option<int>("--gen-tokens") { Description = "Tokens each request generates.", DefaultValueFactory = _ => 128 };
        var requests = new Option<int>("--requests") { Description = "Requests each client sends, one after another.", DefaultValueFactory = _ => 1 };
        var parallel = new Option<int>("--parallel") { Description = "The engine's parallel sequences (0: the largest client count).", DefaultValueFactory = _ => 0 };
        var command = new Command("serve", "Throughput and latency of the HTTP server under concurrent streaming clients; a JSON line per client count.")
        {
            model, clients, threads, promptTokens, genTokens, requests, parallel,
        };
        command.SetAction(async (r, cancel) => await Run(r.GetValue(model)!, r.GetValue(clients)!, r.GetValue(threads), r.GetValue(promptTokens),
            r.GetValue(genTokens), r.GetValue(requests), r.GetValue(parallel), cancel));
        return command;
    }

    static async Task<int> Run(string modelPath, string clientList, int threads, int promptTokens, int genTokens, int requests, int parallel, CancellationToken cancel)
    {
        int[] counts;
        try { counts = clientList.Split(',').Select(s => int.Parse(s.Trim(), CultureInfo.InvariantCulture)).ToArray(); }
        catch (FormatException) { throw new UserInputException($"bench serve: --clients '{clientList}' must be a comma-separated list of positive integers"); }
        if (counts.Length == 0 || counts.Any(c => c <= 0) || threads <= 0 || promptTokens <= 0 || genTokens <= 0 || requests <= 0 || parallel < 0)
            throw new UserInputException("bench serve: --clients, --threads, --prompt-tokens, --gen-tokens and --requests must be positive");
        ComputePool.SetSharedThreads(threads);
        using var loaded = ModelLoader.Load(modelPath, new LoadOptions { ContextLength = promptTokens + genTokens + 16 });
        int vocab = loaded.Tokenizer.VocabSize;
        int slots = parallel > 0 ? parallel : counts.Max();
        // Prefix caching off: every request must pay for its own prompt, as distinct users' prompts do.
        using var engine = new InferenceEngine(loaded, new EngineOptions
        {
            Parallel = slots, QueueCapacity = Math.Max(256, counts.Max() * 2), ContextLength = promptTokens + genTokens + 16, PrefixCaching = false,
        });
        await using var server = await LatheServer.StartAsync(new ServerOptions { Port = 0, ModelName = "bench" }, engine, cancel: cancel);
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromMinutes(30) };
        // Each timed round's engine steps: the median time of a decoding step (no prompt rows in it) tells the
        // engine's share of the inter-token latency from the server's and the clients'.
        var steps = new List<StepInfo>();
        engine.StepCompleted += step => { if (step.PrefillRows == 0) lock (steps) steps.Add(step); };
        var bias = engine.StopTokens.ToDictionary(id => id.ToString(CultureInfo.InvariantCulture), _ => -100);
        string Body(int client, int index, int maxTokens) => JsonSerializer.Serialize(new
        {
            model = "bench", stream = true, stream_options = new { include_usage = true }, temperature = 0, max_tokens = maxTokens, logit_bias = bias,
            prompt = Enumerable.Range(0, promptTokens).Select(i => 3 + (7 * i + 13 * client + 101 * index) % (vocab - 3)).ToArray(),
        });
        Console.Error.WriteLine($"bench serve: {modelPath} at {server.Address}, {threads} threads, {slots} parallel sequences, prompts {promptTokens}, {genTokens} tokens each");

        foreach (int n in counts)
        {
            // Warm-up at this client count: the runtime's tiered compilation of the paths this batch size takes (the
            // kernels' row tiles differ with it) and their first calls stay out of the timed round, as in a server
            // that has been up for a while.
            await ServeLoad.RunAsync(http, "/v1/completions", Math.Min(n, slots), 1, (c, i) => Body(c, i + 1000, genTokens), cancel);
            BenchSupport.ResetPeakRss();
            lock (steps) steps.Clear();
            var result = await ServeLoad.RunAsync(http, "/v1/completions", n, requests, (c, i) => Body(c, i, genTokens), cancel);
            double stepMs;
            lock (steps) stepMs = steps.Count == 0 ? double.NaN : steps.Select(x => x.Seconds * 1000).Order().ElementAt(steps.Count / 2);
            Console.Error.WriteLine($"bench serve: {n} clients: {result.TokensPerSecond:F1} tok/s ({result.DecodeTokensPerSecond:F1} steady), TTFT p50 {result.TtftP50Ms:F0} ms p99 {result.TtftP99Ms:F0} ms, ITL p50 {result.ItlP50Ms:F1} ms p99 {result.ItlP99Ms:F1} ms, {result.Failures} failed");
            BenchSupport.PrintJson(
                ("bench", "serve"), ("model", Path.GetFileName(modelPath)), ("threads", threads), ("clients", n), ("parallel", slots),
                ("prompt_tokens", promptTokens), ("gen_tokens", genTokens), ("requests", result.Requests), ("tokens", result.Tokens),
                ("tokens_per_s", Math.Round(result.TokensPerSecond, 1)), ("steady_tokens_per_s", Math.Round(result.DecodeTokensPerSecond, 1)),
                ("ttft_ms_p50", Math.Round(result.TtftP50Ms, 1)), ("ttft_ms_p99", Math.Round(result.TtftP99Ms, 1)),
                ("itl_ms_p50", Math.Round(result.ItlP50Ms, 2)), ("itl_ms_p99", Math.Round(result.ItlP99Ms, 2)),
                ("decode_step_ms_p50", Math.Round(stepMs, 2)),
                ("failures", result.Failures), ("peak_rss_mb", Math.Round(BenchSupport.PeakRssMb())));
        }
        return 0;
    }
}
