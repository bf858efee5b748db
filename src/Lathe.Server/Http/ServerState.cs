using Lathe.Server.Metrics;
using Lathe.Server.OpenAi;

namespace Lathe.Server.Http;

/// <summary>What every handler reads: the options, the metrics, and the model once it is loaded.</summary>
internal sealed class ServerState(ServerOptions options, ServerMetrics metrics, Action<string> log)
{
    volatile ServedModel? _model;

    public ServerOptions Options { get; } = options;
    public ServerMetrics Metrics { get; } = metrics;
    /// <summary>Where faults of the server's own are written (one line each).</summary>
    public Action<string> Log { get; } = log;
    public ServedModel? Model { get => _model; set => _model = value; }

    /// <summary>The model, or 503 while it loads (a readiness check waits on /health for this).</summary>
    public ServedModel RequireModel() => _model
        ?? throw new ApiException(503, "The model is still loading; try again shortly.", code: "model_loading", type: "server_error");
}
