using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Lathe.Inference;

namespace Lathe.Server.Tests;

/// <summary>A tiny model behind a real server on 127.0.0.1 (a free port) and an HTTP client for it.</summary>
internal sealed class ServerHarness : IAsyncDisposable
{
    public LoadedModel Model { get; private init; } = null!;
    public InferenceEngine Engine { get; private init; } = null!;
    public LatheServer Server { get; private init; } = null!;
    public HttpClient Http { get; private init; } = null!;
    /// <summary>What the server logged (faults of its own; empty in a healthy run).</summary>
    public List<string> Log { get; private init; } = null!;

    public const string ModelId = "tiny";

    public static async Task<ServerHarness> StartAsync(ServerOptions? options = null, EngineOptions? engine = null,
        IAdapterSet? adapters = null, ulong seed = 7, LoadedModel? model = null, LoadedModel? draft = null)
    {
        model ??= TinyModel.Create(seed);
        var e = new InferenceEngine(model, engine ?? new EngineOptions { Parallel = 4 }, adapters, draft);
        var log = new List<string>();
        LatheServer server;
        try
        {
            server = await LatheServer.StartAsync((options ?? new ServerOptions()) with { Port = 0, ModelName = options?.ModelName ?? ModelId },
                e, line => { lock (log) log.Add(line); });
        }
        catch { e.Dispose(); model.Dispose(); throw; }
        // No draining: a response disposed before its end closes the connection, as a client that goes away does
        // (by default the handler would read up to 1 MB more to reuse the connection).
        var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        return new ServerHarness { Model = model, Engine = e, Server = server, Http = http, Log = log };
    }

    public static string Json(object body) => JsonSerializer.Serialize(body);

    public HttpRequestMessage Request(HttpMethod method, string path, string? body = null, string? key = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return request;
    }

    /// <summary>POSTs <paramref name="body"/> (an object serialized, or JSON text) and returns the status and JSON body.</summary>
    public async Task<(int Status, JsonElement Body)> PostAsync(string path, object body, string? key = null)
    {
        using var response = await Http.SendAsync(Request(HttpMethod.Post, path, body as string ?? Json(body), key));
        return ((int)response.StatusCode, await ReadJson(response));
    }

    public async Task<(int Status, JsonElement Body)> GetAsync(string path, string? key = null)
    {
        using var response = await Http.SendAsync(Request(HttpMethod.Get, path, null, key));
        return ((int)response.StatusCode, await ReadJson(response));
    }

    /// <summary>POSTs a streaming request and returns its events' JSON, checking the SSE framing and the final [DONE].</summary>
    public async Task<List<JsonElement>> StreamAsync(string path, object body)
    {
        using var response = await Http.SendAsync(Request(HttpMethod.Post, path, body as string ?? Json(body)), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.ReadAsync(await response.Content.ReadAsStreamAsync());
        Assert.Equal("[DONE]", events[^1]);
        return events.Take(events.Count - 1).Select(e => JsonDocument.Parse(e).RootElement.Clone()).ToList();
    }

    static async Task<JsonElement> ReadJson(HttpResponseMessage response)
    {
        string text = await response.Content.ReadAsStringAsync();
        if (text.Length == 0) return default;
        try { return JsonDocument.Parse(text).RootElement.Clone(); }
        catch (JsonException) { throw new Xunit.Sdk.XunitException($"not JSON ({(int)response.StatusCode}): {text}"); }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Engine.Dispose();
        Model.Dispose();
    }
}

/// <summary>Server-sent events as OpenAI frames them: "data: …" lines, each event ended by a blank line.</summary>
internal static class Sse
{
    public static async Task<List<string>> ReadAsync(Stream stream)
    {
        var events = new List<string>();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var data = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) { events.Add(data.ToString()); data.Clear(); }
                continue;
            }
            Assert.StartsWith("data: ", line);
            data.Append(line["data: ".Length..]);
        }
        Assert.True(data.Length == 0, "the stream ended inside an event");
        return events;
    }
}

/// <summary>One server shared by the tests that only read from it (xunit collection fixture).</summary>
public sealed class SharedServer : IAsyncLifetime
{
    internal ServerHarness Harness { get; private set; } = null!;
    public async Task InitializeAsync() => Harness = await ServerHarness.StartAsync();
    public async Task DisposeAsync() => await Harness.DisposeAsync();
}

[CollectionDefinition("server")]
public sealed class ServerCollection : ICollectionFixture<SharedServer>;

/// <summary>Usage of the same request asked twice: the token counts are equal; the cached count may differ (the second
/// finds the first's prompt in the prefix cache) but never exceeds the prompt.</summary>
internal static class Usage
{
    public static void AssertSame(JsonElement expected, JsonElement actual)
    {
        foreach (string field in new[] { "prompt_tokens", "completion_tokens", "total_tokens" })
            Assert.Equal(expected.GetProperty(field).GetInt32(), actual.GetProperty(field).GetInt32());
        Assert.InRange(actual.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32(), 0, actual.GetProperty("prompt_tokens").GetInt32());
    }
}
