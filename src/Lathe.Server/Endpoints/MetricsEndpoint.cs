using Lathe.Server.Http;
using Lathe.Server.Metrics;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>GET /metrics: the Prometheus text exposition of <see cref="ServerMetrics"/> (engine figures once loaded).</summary>
internal static class MetricsEndpoint
{
    public static Task HandleAsync(HttpContext context, ServerState state)
    {
        string text = state.Metrics.Exposition(state.Model?.Engine.Stats);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = Prometheus.ContentType;
        return context.Response.WriteAsync(text, context.RequestAborted);
    }
}
