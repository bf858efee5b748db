using System.Net;
using Lathe.Inference;
using Lathe.Server.Endpoints;
using Lathe.Server.Http;
using Lathe.Server.Metrics;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Lathe.Server;

/// <summary>The OpenAI-compatible HTTP server over one <see cref="InferenceEngine"/>: Kestrel on real sockets, the
/// routes of docs/SERVING.md, the API key, body limit and CORS of <see cref="ServerOptions"/>. The server translates
/// HTTP only — batching, caching and decoding are the engine's — and keeps no state between requests beyond metrics,
/// so replicas behind a load balancer are interchangeable.</summary>
/// <remarks>It can listen before the model is loaded (<see cref="StartAsync(ServerOptions, Action{string}?, CancellationToken)"/>,
/// then <see cref="Serve"/>): /health answers 503 until then, so a readiness probe waits for the load.</remarks>
public sealed class LatheServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ServerState _state;
    InferenceEngine? _engine;

    LatheServer(WebApplication app, ServerState state, Uri address)
    {
        _app = app;
        _state = state;
        Address = address;
    }

    /// <summary>The bound address, e.g. http://127.0.0.1:8080 (the real port when 0 was asked).</summary>
    public Uri Address { get; }

    public ServerMetrics Metrics => _state.Metrics;

    /// <summary>The model ids clients may name (base first), once serving.</summary>
    public IReadOnlyList<string> ModelIds => _state.Model?.Ids.ToList() ?? [];

    /// <summary>Fires when the host begins a graceful stop.</summary>
    public CancellationToken Stopping => _app.Lifetime.ApplicationStopping;

    /// <summary>Starts listening and serves <paramref name="engine"/> at once.</summary>
    public static async Task<LatheServer> StartAsync(ServerOptions options, InferenceEngine engine, Action<string>? log = null,
        CancellationToken cancel = default)
    {
        var server = await StartAsync(options, log, cancel).ConfigureAwait(false);
        try { server.Serve(engine); }
        catch { await server.DisposeAsync().ConfigureAwait(false); throw; }
        return server;
    }

    /// <summary>Starts listening with no model yet: /health is 503 and the API 503 until <see cref="Serve"/>.</summary>
    /// <param name="log">Where faults of the server's own go (one entry each); standard error by default.</param>
    /// <exception cref="ArgumentException">An option out of range, or a host that is no address.</exception>
    /// <exception cref="IOException">The address is in use.</exception>
    public static async Task<LatheServer> StartAsync(ServerOptions options, Action<string>? log = null, CancellationToken cancel = default)
    {
        options.Validate();
        var endpoint = EndpointOf(options.Host, options.Port);
        log ??= line => Console.Error.WriteLine($"lathe serve: {line}");
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            // RequestBody answers an oversized body with OpenAI's 413. Kestrel's own limit sits 1 MiB above it: Kestrel then
            // reads and drops the rest of a body that is somewhat too large, so the client finishes sending and reads the
            // 413, instead of a connection reset mid-upload; a body larger still is cut off.
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes + (1 << 20);
            k.Listen(endpoint);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = options.ShutdownTimeout);
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        if (options.CorsOrigin is not null) builder.Services.AddCors();
        var app = builder.Build();

        var state = new ServerState(options, new ServerMetrics(), log);
        var boundary = new ErrorBoundary(state.Metrics, log);
        app.Use((context, next) => boundary.InvokeAsync(context, next));
        if (options.CorsOrigin is { } origin)
            app.UseCors(p =>
            {
                if (origin == "*") p.AllowAnyOrigin(); else p.WithOrigins(origin);
                p.AllowAnyHeader().AllowAnyMethod();
            });
        if (options.ApiKey is { } key)
        {
            var check = new ApiKeyCheck(key);
            app.Use((context, next) => check.InvokeAsync(context, next));
        }
        Route(app, "POST", EndpointNames.ChatCompletions, c => ChatCompletions.HandleAsync(c, state));
        Route(app, "POST", EndpointNames.Completions, c => Completions.HandleAsync(c, state));
        Route(app, "POST", EndpointNames.Embeddings, c => Embeddings.HandleAsync(c, state));
        Route(app, "GET", EndpointNames.Models, c => ModelList.ListAsync(c, state));
        Route(app, "GET", EndpointNames.Models + "/{**model}", c => ModelList.GetAsync(c, state));
        Route(app, "GET", EndpointNames.Health, c => Health.HandleAsync(c, state));
        Route(app, "GET", EndpointNames.Metrics, c => MetricsEndpoint.HandleAsync(c, state));
        Route(app, "GET", EndpointNames.Playground, c => Playground.HandleAsync(c, state));
        app.MapFallback(context => throw new ApiException(404, $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", code: "unknown_url"));

        try { await app.StartAsync(cancel).ConfigureAwait(false); }
        catch (IOException e)
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw new IOException($"cannot listen on {options.Host}:{options.Port}: {e.Message}", e);
        }
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new LatheServer(app, state, new Uri(bound));
    }

    /// <summary>Serves <paramref name="engine"/> from now on (the server does not own it: dispose it after the server).</summary>
    /// <exception cref="ArgumentException">The base model's id clashes with an adapter's, or the template is unknown.</exception>
    /// <exception cref="InvalidDataException">The model's chat template is of no known family (give a template name).</exception>
    public void Serve(InferenceEngine engine)
    {
        if (_engine is not null) throw new InvalidOperationException("the server already serves a model.");
        var model = new ServedModel(engine, _state.Options);
        engine.StepCompleted += _state.Metrics.OnStep;
        _engine = engine;
        _state.Model = model;
    }

    /// <summary>Stops gracefully: no new connections, running requests get <see cref="ServerOptions.ShutdownTimeout"/>.</summary>
    public Task StopAsync(CancellationToken cancel = default) => _app.StopAsync(cancel);

    /// <summary>Completes when the host has stopped.</summary>
    public Task WaitForShutdownAsync(CancellationToken cancel = default) => _app.WaitForShutdownAsync(cancel);

    public async ValueTask DisposeAsync()
    {
        try { await _app.StopAsync().ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        if (_engine is not null) _engine.StepCompleted -= _state.Metrics.OnStep;
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    // One route for every method: the wrong method is 405 with OpenAI's error object, not routing's empty one.
    static void Route(WebApplication app, string method, string pattern, RequestDelegate handler) =>
        app.Map(pattern, context =>
        {
            if (context.Request.Method == method || (method == "GET" && HttpMethods.IsHead(context.Request.Method))) return handler(context);
            context.Response.Headers.Allow = method;
            throw new ApiException(405, $"{context.Request.Method} {context.Request.Path}: method not allowed; use {method}.", code: "method_not_allowed");
        });

    // An IP address as given; "localhost" is the IPv4 loopback; another name is resolved once.
    static IPEndPoint EndpointOf(string host, int port)
    {
        if (IPAddress.TryParse(host, out var ip)) return new IPEndPoint(ip, port);
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return new IPEndPoint(IPAddress.Loopback, port);
        try { return new IPEndPoint(Dns.GetHostAddresses(host)[0], port); }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IndexOutOfRangeException or ArgumentException)
        {
            throw new ArgumentException($"host '{host}' is not an IP address or a name that resolves ({e.Message}).");
        }
    }
}
