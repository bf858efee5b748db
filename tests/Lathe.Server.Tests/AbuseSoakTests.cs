using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Xunit.Abstractions;

namespace Lathe.Server.Tests;

/// <summary>Issue #15's load-and-abuse test: 64 clients stream chat completions without pause for
/// LATHE_SOAK_SECONDS (default 60) while other clients send malformed JSON, wrong-typed fields, oversized bodies, unknown
/// models and streams they abandon half-way. No request may get a 5xx, every valid one must end in a well-formed stream,
/// and afterwards the engine holds no sequence and has lost no KV block, the server still serves, its log is empty and
/// memory stayed bounded.</summary>
[Collection("soak")]
public class AbuseSoakTests(ITestOutputHelper output)
{
    const string Chat = "/v1/chat/completions";
    const int Streamers = 64, MaxBody = 16 * 1024;

    /// <summary>Peak RSS growth allowed over the soak's start. Measured on 2 cores: a 15 s run grew 98 MB, a 60 s run
    /// (14,700 streams, 17,500 abusive requests, 890 abandoned streams) 118 MB, i.e. it levels off (managed heap peak
    /// ~90 MB allocated). 300 MB leaves room for a slower machine or another GC mode, yet a leak of a few KB per
    /// request over ~30,000 requests, or of one KV pool per abandoned stream, would cross it.</summary>
    const long RssGrowthBound = 300L << 20;

    static int Seconds => int.TryParse(Environment.GetEnvironmentVariable("LATHE_SOAK_SECONDS"), out int s) && s > 0 ? s : 60;

    static readonly string[] Prompts =
        ["the whale", "Hello there. How are you today?", "call the function with arguments", "12 whales!", "the sea and the sky"];

    /// <summary>What a client saw, counted by kind; any 5xx or malformed answer goes to <see cref="Failures"/>.</summary>
    sealed class Tally
    {
        public long Streams, Tokens, Busy, BadJson, WrongTypes, Oversized, UnknownModel, Abandoned;
        public readonly ConcurrentQueue<string> Failures = new();
        public void Fail(string what) { if (Failures.Count < 20) Failures.Enqueue(what); }
    }

    [Fact]
    public async Task Sixty_four_streams_and_abusive_clients_for_a_minute_leave_no_5xx_no_leak_and_a_serving_server()
    {
        await using var h = await ServerHarness.StartAsync(new ServerOptions { MaxBodyBytes = MaxBody },
            new EngineOptions { Parallel = 16, QueueCapacity = 1024 });
        // One connection per client and no pool limit: 64 streams at once need 64 sockets.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0, MaxConnectionsPerServer = 256 })
            { BaseAddress = h.Server.Address, Timeout = TimeSpan.FromSeconds(120) };
        var tally = new Tally();
        var memory = new MemoryWatch();
        memory.Sample();
        var clock = Stopwatch.StartNew();
        var until = TimeSpan.FromSeconds(Seconds);
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(async () => { while (!stop.IsCancellationRequested) { memory.Sample(); await Task.Delay(100); } });

        var clients = new List<Task>();
        for (int i = 0; i < Streamers; i++)
        {
            int id = i;
            clients.Add(Task.Run(async () => { var rng = new Random(id); while (clock.Elapsed < until) await StreamOnce(http, rng, tally); }));
        }
        clients.Add(Task.Run(async () => { while (clock.Elapsed < until) await Paced(Malformed(http, tally)); }));
        clients.Add(Task.Run(async () => { var rng = new Random(100); while (clock.Elapsed < until) await Paced(WrongTypes(http, rng, tally)); }));
        clients.Add(Task.Run(async () => { while (clock.Elapsed < until) await Paced(Oversized(http, tally)); }));
        clients.Add(Task.Run(async () => { while (clock.Elapsed < until) await Paced(UnknownModel(http, tally)); }));
        for (int i = 0; i < 2; i++)
        {
            int id = 200 + i;
            clients.Add(Task.Run(async () => { var rng = new Random(id); while (clock.Elapsed < until) await Abandon(http, rng, tally); }));
        }
        await Task.WhenAll(clients);
        double seconds = clock.Elapsed.TotalSeconds;
        stop.Cancel();
        await watcher;
        memory.Sample();

        output.WriteLine($"{seconds:F1} s: {tally.Streams} streams ({tally.Tokens} completion tokens, {tally.Tokens / seconds:F0} tok/s), " +
            $"{tally.Busy} × 429, {tally.BadJson} malformed JSON, {tally.WrongTypes} wrong-typed, {tally.Oversized} oversized, " +
            $"{tally.UnknownModel} unknown model, {tally.Abandoned} abandoned mid-stream");
        output.WriteLine(memory.Report());
        Assert.True(tally.Failures.IsEmpty, string.Join("\n", tally.Failures));
        Assert.True(tally.Streams > Streamers, $"only {tally.Streams} streams completed");
        Assert.True(tally.Abandoned > 0 && tally.BadJson > 0 && tally.WrongTypes > 0 && tally.Oversized > 0 && tally.UnknownModel > 0);

        var stats = await Settled(h.Engine, TimeSpan.FromSeconds(15));
        output.WriteLine($"engine: {JsonSerializer.Serialize(stats)}");
        Assert.Equal(0, stats.RunningSequences);
        Assert.Equal(0, stats.Queued);
        Assert.Equal(stats.KvBlocks, stats.KvBlocksFree + stats.KvBlocksCached);
        // Still serving, on a fresh connection, a whole reply and a stream.
        using var fresh = new HttpClient { BaseAddress = h.Server.Address };
        using (var after = await fresh.PostAsync(Chat, new StringContent(ValidBody(Prompts[0], 4, stream: false), Encoding.UTF8, "application/json")))
            Assert.Equal(200, (int)after.StatusCode);
        Assert.Null(await StreamOnce(http, new Random(1), tally));
        Assert.Empty(h.Log);
        Assert.True(memory.RssGrowth < RssGrowthBound, $"peak RSS grew {memory.RssGrowth >> 20} MB over the start (bound {RssGrowthBound >> 20} MB)");
    }

    /// <summary>An abusive request, then a pause: unpaced, four abusers answered in microseconds would take the cores
    /// from the streams (thousands of 4xx a second) and the soak would test little streaming.</summary>
    static async Task Paced(Task abuse) { await abuse; await Task.Delay(5); }

    static string ValidBody(string prompt, int maxTokens, bool stream)
    {
        var body = new Dictionary<string, object>
        {
            ["model"] = ServerHarness.ModelId,
            ["messages"] = new[] { new { role = "user", content = prompt } },
            ["max_tokens"] = maxTokens, ["temperature"] = 1.0, ["stream"] = stream,
        };
        if (stream) body["stream_options"] = new { include_usage = true };   // OpenAI refuses stream_options without stream
        return ServerHarness.Json(body);
    }

    /// <summary>One valid streaming request read to its end and checked: chunks of one id, one finish reason, the usage
    /// chunk, [DONE]. Returns the failure (also tallied), or null when the stream was well formed or the queue was full.</summary>
    static async Task<string?> StreamOnce(HttpClient http, Random rng, Tally tally)
    {
        int maxTokens = rng.Next(1, 48);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Chat)
                { Content = new StringContent(ValidBody(Prompts[rng.Next(Prompts.Length)], maxTokens, stream: true), Encoding.UTF8, "application/json") };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            int status = (int)response.StatusCode;
            if (status == 429) { Interlocked.Increment(ref tally.Busy); await response.Content.ReadAsStringAsync(); return null; }
            if (status != 200) return Failed(tally, $"valid stream: status {status}: {await response.Content.ReadAsStringAsync()}");
            var events = await Sse.ReadAsync(await response.Content.ReadAsStreamAsync());
            if (events.Count < 3 || events[^1] != "[DONE]") return Failed(tally, $"valid stream: did not end in [DONE]: {string.Join(" | ", events.TakeLast(2))}");
            var chunks = events.SkipLast(1).Select(e => JsonDocument.Parse(e).RootElement).ToList();
            string? id = chunks[0].GetProperty("id").GetString();
            var finishes = new List<string>();
            foreach (var c in chunks)
            {
                if (c.GetProperty("object").GetString() != "chat.completion.chunk" || c.GetProperty("id").GetString() != id)
                    return Failed(tally, $"valid stream: stray chunk {c.GetRawText()}");
                foreach (var choice in c.GetProperty("choices").EnumerateArray())
                    if (choice.GetProperty("finish_reason").ValueKind == JsonValueKind.String) finishes.Add(choice.GetProperty("finish_reason").GetString()!);
            }
            if (finishes.Count != 1 || finishes[0] is not ("stop" or "length")) return Failed(tally, $"valid stream: finish reasons [{string.Join(",", finishes)}]");
            var usage = chunks[^1].GetProperty("usage");
            int completion = usage.GetProperty("completion_tokens").GetInt32();
            // 0 tokens is a valid answer: the first token drawn may be the end of turn (not counted, as OpenAI does not).
            if (completion < 0 || completion > maxTokens || (finishes[0] == "length") != (completion == maxTokens))
                return Failed(tally, $"valid stream: {completion} tokens, finish {finishes[0]}, max_tokens {maxTokens}");
            Interlocked.Increment(ref tally.Streams);
            Interlocked.Add(ref tally.Tokens, completion);
            return null;
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or TaskCanceledException or Xunit.Sdk.XunitException)
        {
            return Failed(tally, $"valid stream: {e.GetType().Name}: {e.Message}");
        }
    }

    static string Failed(Tally tally, string what) { tally.Fail(what); return what; }

    /// <summary>Sends a body and checks the answer is the expected 4xx with OpenAI's error object (never a 5xx).</summary>
    static async Task Expect(HttpClient http, HttpContent content, int expected, string what, Tally tally, Action<Tally> count)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = content };
            using var response = await http.SendAsync(request);
            int status = (int)response.StatusCode;
            string text = await response.Content.ReadAsStringAsync();
            if (status != expected) { tally.Fail($"{what}: status {status} (expected {expected}): {text}"); return; }
            using var doc = JsonDocument.Parse(text);
            if (doc.RootElement.GetProperty("error").GetProperty("message").GetString() is not { Length: > 0 } message || message.Contains('\n'))
                tally.Fail($"{what}: not a one-line error message: {text}");
            else count(tally);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or KeyNotFoundException or TaskCanceledException)
        {
            tally.Fail($"{what}: {e.GetType().Name}: {e.Message}");
        }
    }

    static StringContent JsonContent(string text) => new(text, Encoding.UTF8, "application/json");

    static readonly string[] BadJson =
    [
        "{", "{\"messages\": [", "not json at all", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}],}", "\u0000\u0001",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"\\ud800\"}], \"max_tokens\": 2", "[]", "null", "",
    ];

    static int s_badJson;
    static Task Malformed(HttpClient http, Tally tally) =>
        Expect(http, JsonContent(BadJson[Interlocked.Increment(ref s_badJson) % BadJson.Length]), 400, "malformed JSON", tally, t => Interlocked.Increment(ref t.BadJson));

    static readonly string[] WrongTyped =
    [
        """{"messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}""",
        """{"messages":"hi"}""",
        """{"messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""",
        """{"messages":[{"role":"user","content":"hi"}],"n":1.5}""",
        """{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}""",
        """{"messages":[{"role":"user","content":"hi"}],"stop":7}""",
        """{"messages":[{"role":"user","content":"hi"}],"logit_bias":{"abc":1}}""",
        """{"messages":[{"role":7,"content":"hi"}]}""",
        """{"messages":[{"role":"user","content":"hi"}],"max_tokens":-3}""",
        """{"messages":[{"role":"user","content":"hi"}],"max_tokens":100000}""",
        """{"messages":[{"role":"user","content":"hi"}],"top_p":[1]}""",
        """{"messages":[{"role":"user","content":"hi"}],"seed":"x"}""",
        """{"messages":[]}""",
    ];

    static Task WrongTypes(HttpClient http, Random rng, Tally tally) =>
        Expect(http, JsonContent(WrongTyped[rng.Next(WrongTyped.Length)]), 400, "wrong-typed field", tally, t => Interlocked.Increment(ref t.WrongTypes));

    static readonly string OversizedBody = """{"messages":[{"role":"user","content":" """ + new string('x', MaxBody + 4096) + "\"}]}";

    static Task Oversized(HttpClient http, Tally tally) =>
        Expect(http, JsonContent(OversizedBody), 413, "oversized body", tally, t => Interlocked.Increment(ref t.Oversized));

    static Task UnknownModel(HttpClient http, Tally tally) =>
        Expect(http, JsonContent("""{"model":"gpt-nonexistent","messages":[{"role":"user","content":"hi"}],"max_tokens":2}"""), 404,
            "unknown model", tally, t => Interlocked.Increment(ref t.UnknownModel));

    /// <summary>A long stream the client leaves after a few chunks: the server must free its sequences, not fault.</summary>
    static async Task Abandon(HttpClient http, Random rng, Tally tally)
    {
        string body = ServerHarness.Json(new
        {
            messages = new[] { new { role = "user", content = Prompts[rng.Next(Prompts.Length)] } }, max_tokens = 200, n = rng.Next(1, 4), stream = true,
            logit_bias = new Dictionary<string, int> { [TinyModel.SpecialId(TinyModel.ImEnd).ToString()] = -100, [TinyModel.SpecialId(TinyModel.EndOfText).ToString()] = -100 },
        });
        try
        {
            using var cancel = new CancellationTokenSource();
            using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = JsonContent(body) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
            if ((int)response.StatusCode == 429) { Interlocked.Increment(ref tally.Busy); return; }
            if ((int)response.StatusCode != 200) { tally.Fail($"abandoned stream: status {(int)response.StatusCode}"); return; }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
            for (int lines = rng.Next(1, 12); lines > 0; lines--)
                if (await reader.ReadLineAsync(cancel.Token) is null) break;
            cancel.Cancel();   // the client goes away mid-stream
            Interlocked.Increment(ref tally.Abandoned);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
        {
            tally.Fail($"abandoned stream before leaving: {e.GetType().Name}: {e.Message}");
        }
    }

    static async Task<EngineStats> Settled(InferenceEngine engine, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var stats = engine.Stats;
            if ((stats.RunningSequences == 0 && stats.Queued == 0) || DateTime.UtcNow > deadline) return stats;
            await Task.Delay(20);
        }
    }

    /// <summary>The process's resident set (sampled, and the kernel's lifetime peak VmHWM) and the managed heap.</summary>
    sealed class MemoryWatch
    {
        long _startRss = -1, _peakRss, _peakManaged, _peakHeap;

        public long RssGrowth => _peakRss - _startRss;

        public void Sample()
        {
            long rss = Status("VmRSS:");
            lock (this)
            {
                if (_startRss < 0) _startRss = rss;
                _peakRss = Math.Max(_peakRss, rss);
                _peakManaged = Math.Max(_peakManaged, GC.GetTotalMemory(false));
                _peakHeap = Math.Max(_peakHeap, GC.GetGCMemoryInfo().HeapSizeBytes);
            }
        }

        public string Report() =>
            $"memory: RSS at start {_startRss >> 20} MB, sampled peak {_peakRss >> 20} MB (growth {RssGrowth >> 20} MB), " +
            $"VmHWM {Status("VmHWM:") >> 20} MB; managed heap peak {_peakManaged >> 20} MB allocated, {_peakHeap >> 20} MB GC heap size";

        /// <summary>A "Name:  N kB" line of /proc/self/status, in bytes.</summary>
        static long Status(string name)
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(name, StringComparison.Ordinal))
                    return long.Parse(line[name.Length..].Trim().Split(' ')[0]) * 1024;
            throw new InvalidDataException($"/proc/self/status has no {name}");
        }
    }
}

/// <summary>The soak runs alone: it owns both cores for its minute, and its memory figures are its own.</summary>
[CollectionDefinition("soak", DisableParallelization = true)]
public sealed class SoakCollection;
